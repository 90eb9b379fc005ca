"""How static files are stored: WhiteNoise's compressed, content-hashed files, made by `collectstatic`."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed names once `collectstatic` has written its manifest. A checkout where it never ran (the
    tests of a fresh clone, a first `runserver`) has no manifest: pages then link the apps' files by
    their own names, which WhiteNoise finds in the apps while DEBUG is on, instead of failing to render.
    A deployment that forgot collectstatic thus shows an unstyled admin, not a 500."""

    def url(self, name: str | None, force: bool = False) -> str:
        # Django links unhashed names while DEBUG is on; the demo (DEBUG on, collected by `make run`)
        # serves what production serves.
        return str(super().url(name, force=force or bool(self.hashed_files)))

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return str(super().stored_name(name))
