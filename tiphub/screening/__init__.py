"""Screening for trafficking: versioned instruments as data, their scoring rules, and the
identification and referral workflows a positive screen may lead to.

A screening result is never a legal determination: it prompts a trained person's judgement
and, where it applies, a referral to the national referral mechanism.
"""
