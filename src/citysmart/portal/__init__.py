"""The portal: the web app that mounts the hub and every service, with one sign-in."""
