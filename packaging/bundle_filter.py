"""What the spec leaves out of the bundle, as path patterns with the reason for each; imported by llad.spec.

Patterns match the destination path inside the bundle (``torch/lib/libtorch_cuda_linalg.so``), with ``/`` on every
platform. A rule may keep some files it would otherwise drop. The build prints what each rule removed, so a rule
that stops matching after an upgrade is seen, not silently kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path


@dataclass
class Rule:
    pattern: str
    reason: str
    keep: tuple[str, ...] = ()
    dropped: list[tuple[str, int]] = field(default_factory=list)

    def matches(self, dest: str) -> bool:
        return fnmatch(dest, self.pattern) and not any(fnmatch(dest, k) for k in self.keep)


def unused_patterns(platform: str) -> list[Rule]:
    """Files no platform's bundle needs."""
    rules = [
        Rule("torch/bin/protoc*", "protobuf compiler: a build tool"),
        Rule("pypylon/pylondataprocessingplugins/*", "pylon vTools plugins: LLAD only grabs frames"),
        Rule("pypylon/dataprocessingpluginsb/*", "pylon vTools plugins: LLAD only grabs frames"),
        Rule("pypylon/*PylonDataProcessing*", "pylon vTools libraries (pypylon.pylondataprocessing is excluded)"),
        Rule("pypylon/_pylondataprocessing*", "pylon vTools binding (pypylon.pylondataprocessing is excluded)"),
    ]
    if platform.startswith("linux"):
        rules += [
            Rule(
                "PySide6/Qt/plugins/platforms/*",
                "Qt platforms other than xcb (X11, XWayland), offscreen and minimal",
                keep=("*/libqxcb.so", "*/libqoffscreen.so", "*/libqminimal.so"),
            ),
            Rule("PySide6/Qt/plugins/egldeviceintegrations/*", "only for the eglfs platform (no window system)"),
            Rule("PySide6/Qt/plugins/wayland-*", "only for the native Wayland platform; Wayland runs it via XWayland"),
            Rule("PySide6/Qt/lib/libQt6Wayland*", "only for the native Wayland platform"),
            Rule("PySide6/Qt/lib/libQt6WlShellIntegration*", "only for the native Wayland platform"),
            Rule("PySide6/Qt/lib/libQt6EglFs*", "only for the eglfs platform"),
            Rule("PySide6/Qt/lib/libQt6EglFSDeviceIntegration*", "only for the eglfs platform"),
        ]
    return rules


def cpu_only_patterns() -> list[Rule]:
    """CUDA libraries that only a GPU run loads (dlopen), none of them linked by what `import torch` loads.

    The ones torch's own libraries link (cudart, cublas, cublasLt, cufft, curand, cusparse, cusparseLt, cufile,
    cupti, nvrtc, nvJitLink, nccl, nvshmem_host, the libcudnn.so.9 loader) must stay: without them `import torch`
    fails. The runtime hook rthooks/pyi_rth_llad_cpu_only.py hides GPUs so nothing asks for the dropped ones.
    """
    return [
        Rule("nvidia/cudnn/lib/libcudnn_*", "cuDNN engines: loaded by libcudnn.so.9 when a GPU convolution runs"),
        Rule("torch/lib/libtorch_cuda_linalg.so", "CUDA linear algebra: loaded on the first GPU linalg call"),
        Rule("nvidia/cu*/lib/libcusolver*", "cuSOLVER: needed only by libtorch_cuda_linalg.so"),
    ]


class Dropper:
    """Filters PyInstaller TOC lists (dest, src, typecode) and reports what each rule removed."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def _rule_for(self, dest: str, src: str, typecode: str) -> Rule | None:
        names = [dest.replace("\\", "/")]
        if typecode == "SYMLINK":  # a link to a dropped file must go too
            names.append(str(Path(dest).parent / src).replace("\\", "/"))
        for rule in self.rules:
            if any(rule.matches(n) for n in names):
                return rule
        return None

    def filter(self, toc):
        kept = []
        for entry in toc:
            dest, src, typecode = entry
            rule = self._rule_for(dest, src, typecode)
            if rule is None:
                kept.append(entry)
            else:
                size = Path(src).stat().st_size if typecode != "SYMLINK" and Path(src).is_file() else 0
                rule.dropped.append((dest, size))
        return kept

    def report(self) -> None:
        total = 0
        print("llad.spec: left out of the bundle")
        for rule in self.rules:
            size = sum(s for _, s in rule.dropped)
            total += size
            print(f"  {len(rule.dropped):4d} files {size / 1e6:8.1f} MB  {rule.pattern}  ({rule.reason})")
        print(f"  total {total / 1e6:.1f} MB")
