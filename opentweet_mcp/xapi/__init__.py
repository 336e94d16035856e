"""Posting to X directly through the X API v2 (issue 18): sign-in and tokens so far."""
