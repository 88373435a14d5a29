"""PyInstaller hook for ``genicam`` (GenApi/GenTL bindings that harvesters uses); pyinstaller-hooks-contrib has none.

Its SWIG modules link the GenICam reference libraries that sit beside them, and it ships the simulated GenTL
producer ``viky.cti`` (a shared library with another suffix, so no automatic rule picks it up). All go into
``genicam/`` inside the bundle, where the modules' RPATH ($ORIGIN) and
:func:`core.sources.gentl_camera.simulated_producer` look for them.
"""

from PyInstaller.utils.hooks import collect_dynamic_libs, get_package_paths

hiddenimports = ["genicam.genapi", "genicam.gentl"]
binaries = collect_dynamic_libs("genicam")
_, _package_dir = get_package_paths("genicam")
binaries += [(f"{_package_dir}/viky.cti", "genicam")]
