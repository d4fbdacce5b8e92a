from importlib.metadata import PackageNotFoundError, version as _version
try: __version__ = _version('sagan_seg')  # the version is written once, in settings.ini
except PackageNotFoundError: __version__ = 'unknown'
