"""The portal as an OpenID Connect provider: one sign-in for every city service."""
