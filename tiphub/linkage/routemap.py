"""A self-contained SVG map of trafficking routes: countries as points, routes as arrows.

Countries sit at approximate centroids (``data/country-centroids.csv``, hand-compiled,
see ``data/NOTICE.md``) on an equirectangular projection, zoomed to the countries drawn.
The SVG needs no script, font or download to display, so it can be inlined in an HTML
report that is read offline. It carries only country codes and counts.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from itertools import pairwise

CENTROIDS_FILE = "country-centroids.csv"

ROLE_COLOURS: dict[str, str] = {
    "origin": "#c0392b",
    "transit": "#d68910",
    "destination": "#1f618d",
    "several": "#6c3483",
    "domestic": "#7f8c8d",
}
ROLE_LABELS: dict[str, str] = {
    "origin": "origin",
    "transit": "transit",
    "destination": "destination",
    "several": "several roles",
    "domestic": "within one country",
}
ARROW_COLOUR = "#34495e"
LEGEND_HEIGHT = 64


@dataclass(frozen=True)
class RouteCount:
    """How many victims (clusters) followed one route, from origin through transits."""

    origin: str
    transits: tuple[str, ...]
    destination: str
    victims: int

    @property
    def countries(self) -> tuple[str, ...]:
        return (self.origin, *self.transits, self.destination)

    @property
    def cross_border(self) -> bool:
        return len(set(self.countries)) > 1

    @property
    def label(self) -> str:
        return " → ".join(self.countries)


@dataclass(frozen=True)
class Centroid:
    alpha_2: str
    alpha_3: str
    lat: float
    lon: float
    name: str


@cache
def country_centroids() -> dict[str, Centroid]:
    """The shipped centroid table, keyed by ISO 3166-1 alpha-2 code."""
    text = files("tiphub.linkage").joinpath("data", CENTROIDS_FILE).read_text(encoding="utf-8")
    table: dict[str, Centroid] = {}
    for row in csv.DictReader(text.splitlines()):
        table[row["alpha_2"]] = Centroid(
            row["alpha_2"], row["alpha_3"], float(row["lat"]), float(row["lon"]), row["name"]
        )
    return table


@dataclass(frozen=True)
class _View:
    """An equirectangular window onto the globe, with equal degrees per pixel both ways."""

    lon_min: float
    lat_max: float
    scale: float  # pixels per degree
    width: float
    height: float

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon_min) * self.scale, (self.lat_max - lat) * self.scale

    @property
    def lon_max(self) -> float:
        return self.lon_min + self.width / self.scale

    @property
    def lat_min(self) -> float:
        return self.lat_max - self.height / self.scale


def _view(points: Sequence[Centroid], width: float, height: float) -> _View:
    lons = [p.lon for p in points]
    lats = [p.lat for p in points]
    # A margin keeps labels and curves inside the frame; a floor on the span keeps a
    # one-country map from zooming in to nothing.
    lon_lo, lon_hi = min(lons), max(lons)
    lat_lo, lat_hi = min(lats), max(lats)
    lon_pad = max(6.0, (lon_hi - lon_lo) * 0.12)
    lat_pad = max(4.0, (lat_hi - lat_lo) * 0.12)
    lon_lo, lon_hi = lon_lo - lon_pad, lon_hi + lon_pad
    lat_lo, lat_hi = lat_lo - lat_pad, lat_hi + lat_pad
    span_lon = max(lon_hi - lon_lo, 30.0)
    span_lat = max(lat_hi - lat_lo, 15.0)
    scale = min(width / span_lon, height / span_lat)
    centre_lon, centre_lat = (lon_lo + lon_hi) / 2, (lat_lo + lat_hi) / 2
    # Keep the window on the globe where it fits, so the graticule stays meaningful.
    half_lat = height / scale / 2
    if half_lat <= 90:
        centre_lat = min(max(centre_lat, -90 + half_lat), 90 - half_lat)
    half_lon = width / scale / 2
    if half_lon <= 180:
        centre_lon = min(max(centre_lon, -180 + half_lon), 180 - half_lon)
    return _View(centre_lon - half_lon, centre_lat + half_lat, scale, width, height)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _graticule(view: _View) -> list[str]:
    span = view.width / view.scale
    step = 5 if span <= 50 else 10 if span <= 140 else 30
    parts = ['<g stroke="#d5dbdb" stroke-width="0.6" fill="none">']
    labels = ['<g fill="#95a5a6" font-size="9">']
    lon = math.ceil(view.lon_min / step) * step
    while lon <= view.lon_max:
        x, _ = view.xy(0, lon)
        parts.append(f'<line x1="{_fmt(x)}" y1="0" x2="{_fmt(x)}" y2="{_fmt(view.height)}"/>')
        hemisphere = "E" if lon > 0 else "W" if lon < 0 else ""
        labels.append(
            f'<text x="{_fmt(x + 2)}" y="{_fmt(view.height - 3)}">{abs(lon)}°{hemisphere}</text>'
        )
        lon += step
    lat = math.ceil(view.lat_min / step) * step
    while lat <= view.lat_max:
        _, y = view.xy(lat, 0)
        parts.append(f'<line x1="0" y1="{_fmt(y)}" x2="{_fmt(view.width)}" y2="{_fmt(y)}"/>')
        hemisphere = "N" if lat > 0 else "S" if lat < 0 else ""
        labels.append(f'<text x="2" y="{_fmt(y - 2)}">{abs(lat)}°{hemisphere}</text>')
        lat += step
    parts.append("</g>")
    labels.append("</g>")
    return parts + labels


def _stroke_width(count: int, most: int) -> float:
    # Square root, so that one dominant route does not reduce all others to hairlines.
    return 1.5 + 8.5 * math.sqrt(count / most)


def _leg(
    start: tuple[float, float],
    end: tuple[float, float],
    width: float,
    end_radius: float,
) -> tuple[str, str, tuple[float, float]]:
    """A curved arrow from start to end: path, arrowhead polygon, and a point for a label."""
    (x0, y0), (x2, y2) = start, end
    dx, dy = x2 - x0, y2 - y0
    length = math.hypot(dx, dy) or 1.0
    # Bending every arrow to its own left keeps A→B and B→A apart instead of overlapping;
    # the cap keeps long legs from swinging across the whole map.
    bend = min(0.18 * length, 70.0)
    cx, cy = (x0 + x2) / 2 + dy / length * bend, (y0 + y2) / 2 - dx / length * bend
    tx, ty = x2 - cx, y2 - cy
    tangent = math.hypot(tx, ty) or 1.0
    ux, uy = tx / tangent, ty / tangent
    head = 5.0 + 1.6 * width
    tip = (x2 - ux * (end_radius + 1.5), y2 - uy * (end_radius + 1.5))
    # The line stops inside the arrowhead so its square end does not poke through the tip.
    line_end = (tip[0] - ux * head * 0.7, tip[1] - uy * head * 0.7)
    path = f"M{_fmt(x0)},{_fmt(y0)} Q{_fmt(cx)},{_fmt(cy)} {_fmt(line_end[0])},{_fmt(line_end[1])}"
    base = (tip[0] - ux * head, tip[1] - uy * head)
    half = head * 0.55
    left = (base[0] - uy * half, base[1] + ux * half)
    right = (base[0] + uy * half, base[1] - ux * half)
    polygon = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in (tip, left, right))
    middle = (0.25 * x0 + 0.5 * cx + 0.25 * x2, 0.25 * y0 + 0.5 * cy + 0.25 * y2)
    return path, polygon, middle


def _empty_svg(width: int, height: int, title: str, message: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#fbfcfc" stroke="#d5dbdb"/>'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="14" '
        f'fill="#566573">{escape(message)}</text></svg>'
    )


def route_map_svg(
    routes: Iterable[RouteCount],
    *,
    width: int = 960,
    height: int = 520,
    max_routes: int = 40,
    title: str = "Trafficking routes",
) -> str:
    """An inline SVG drawing the ``max_routes`` largest cross-border routes as arrows.

    Every leg (origin → transit → … → destination) is a curved arrow; legs shared by
    several routes are drawn once, as wide as all their victims together. Points are
    coloured by the countries' roles and labelled with ISO alpha-2 codes and victim counts
    (routes within one country add to these counts); each point and arrow has a
    ``<title>`` tooltip with the details. Routes through a code missing from the centroid
    table are left out and counted in the legend.
    """
    centroids = country_centroids()
    ranked = sorted(routes, key=lambda r: (-r.victims, r.countries))
    ranked = [r for r in ranked if r.victims > 0]
    map_height = height - LEGEND_HEIGHT
    drawable = [r for r in ranked if all(c in centroids for c in r.countries)]
    unplaced = len(ranked) - len(drawable)
    crossing = [r for r in drawable if r.cross_border]
    # Routes within one country draw no arrow, only add to their country's label, so they
    # do not take places among the arrows.
    shown = crossing[:max_routes] + [r for r in drawable if not r.cross_border]
    if not shown:
        message = "No route with a known origin and destination to draw."
        return _empty_svg(width, height, title, message)

    legs: Counter[tuple[str, str]] = Counter()
    roles: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    domestic: Counter[str] = Counter()
    for route in shown:
        path = route.countries
        for position, country in enumerate(path):
            role = (
                "domestic"
                if not route.cross_border
                else "origin"
                if position == 0
                else "destination"
                if position == len(path) - 1
                else "transit"
            )
            roles.setdefault(country, Counter())[role] += route.victims
        # A country a route passes twice still counts its victims once.
        for country in set(path):
            totals[country] += route.victims
        for a, b in pairwise(path):
            if a != b:
                legs[(a, b)] += route.victims
        if not route.cross_border:
            domestic[route.origin] += route.victims
    view = _view([centroids[c] for c in sorted(roles)], float(width), float(map_height))
    most_victims = max(totals.values())
    radius = {c: 3.5 + 5.0 * math.sqrt(totals[c] / most_victims) for c in roles}
    point = {c: view.xy(centroids[c].lat, centroids[c].lon) for c in roles}

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{map_height}" fill="#fbfcfc" stroke="#d5dbdb"/>',
        *_graticule(view),
    ]
    most_leg = max(legs.values()) if legs else 1
    arrows: list[str] = [f'<g fill="{ARROW_COLOUR}" stroke="{ARROW_COLOUR}">']
    counts: list[str] = [
        '<g font-size="10" fill="#17202a" stroke="#ffffff" stroke-width="3" '
        'paint-order="stroke" text-anchor="middle">'
    ]
    # Thin arrows last, so wide ones never hide them.
    for (a, b), count in sorted(legs.items(), key=lambda item: (-item[1], item[0])):
        stroke = _stroke_width(count, most_leg)
        curve, head, (mx, my) = _leg(point[a], point[b], stroke, radius[b])
        tooltip = escape(f"{a} → {b}: {count} victims")
        arrows.append(
            f'<g opacity="0.62"><title>{tooltip}</title>'
            f'<path d="{curve}" fill="none" stroke-width="{_fmt(stroke)}" '
            f'stroke-linecap="butt"/><polygon points="{head}" stroke="none"/></g>'
        )
        counts.append(f'<text x="{_fmt(mx)}" y="{_fmt(my + 3)}">{count}</text>')
    arrows.append("</g>")
    counts.append("</g>")
    out += arrows + counts

    out.append(
        '<g font-size="11" stroke="#ffffff" stroke-width="3" paint-order="stroke" fill="#17202a">'
    )
    for country in sorted(roles, key=lambda c: (-totals[c], c)):
        kinds = [k for k in ("origin", "transit", "destination") if roles[country][k]]
        # Routes within one country do not make a country an origin or a destination.
        colour = ROLE_COLOURS[
            "domestic" if not kinds else kinds[0] if len(kinds) == 1 else "several"
        ]
        x, y = point[country]
        details = [f"{k} {roles[country][k]}" for k in kinds]
        if domestic[country]:
            details.append(f"within the country {domestic[country]}")
        detail = ", ".join(details)
        tooltip = escape(f"{centroids[country].name} ({country}): {detail}")
        out.append(
            f"<g><title>{tooltip}</title>"
            f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(radius[country])}" '
            f'fill="{colour}" stroke="#ffffff" stroke-width="1.2"/>'
            f'<text x="{_fmt(x + radius[country] + 2)}" y="{_fmt(y - radius[country])}">'
            f'<tspan font-weight="bold">{escape(country)}</tspan> {totals[country]}</text></g>'
        )
    out.append("</g>")
    out += _legend(
        width, map_height, most_leg, min(len(crossing), max_routes), len(crossing), unplaced
    )
    out.append("</svg>")
    return "".join(out)


def _legend(
    width: int, top: int, most_leg: int, shown: int, total: int, unplaced: int
) -> list[str]:
    parts = [
        f'<g transform="translate(0,{top})" font-size="11" fill="#17202a">',
        f'<rect width="{width}" height="{LEGEND_HEIGHT}" fill="#ffffff"/>',
    ]
    x = 10
    for role in ("origin", "transit", "destination", "several", "domestic"):
        parts.append(
            f'<circle cx="{x + 5}" cy="16" r="5" fill="{ROLE_COLOURS[role]}"/>'
            f'<text x="{x + 14}" y="20">{escape(ROLE_LABELS[role])}</text>'
        )
        x += 22 + 7 * len(ROLE_LABELS[role])
    x += 10
    samples = sorted({1, most_leg}) if most_leg > 1 else [1]
    for sample in samples:
        stroke = _stroke_width(sample, most_leg)
        parts.append(
            f'<line x1="{x}" y1="16" x2="{x + 34}" y2="16" stroke="{ARROW_COLOUR}" '
            f'stroke-opacity="0.62" stroke-width="{_fmt(stroke)}"/>'
            f'<text x="{x + 40}" y="20">{sample} victim{"s" if sample != 1 else ""}</text>'
        )
        x += 110
    note = (
        f"Arrows: the {shown} largest of {total} cross-border routes. Labels: ISO 3166 "
        "code and victims whose route touches the country. Points are approximate centroids."
    )
    if unplaced:
        note += f" {unplaced} route(s) through unknown country codes not drawn."
    parts.append(f'<text x="10" y="44" fill="#566573">{escape(note)}</text>')
    parts.append("</g>")
    return parts
