"""City services: one package each, exporting a ``SERVICE`` manifest the portal mounts."""
