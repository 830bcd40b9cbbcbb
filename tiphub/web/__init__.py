"""The server-rendered web interface: templates, static files, translations and forms."""
