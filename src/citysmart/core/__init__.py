"""The core every part of citysmart stands on: settings, database, auth, errors, time."""
