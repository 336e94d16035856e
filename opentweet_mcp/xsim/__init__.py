"""A local simulator of the X API v2 (issue 18's groundwork): OAuth 2.0 with PKCE, tweets,
users/me, media upload, rate limits and the error shapes of the X posting guide."""
