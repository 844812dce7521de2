"""The wire: signing, the Live API client, outcome classification, retry policy, rate limiting."""
