"""Regenerates the screenshots in docs/ (needs Debian's chromium):

    .venv/bin/python docs/screenshots.py

ovtf-info.png          `ovtf info`
ovtf-analyze.png       `ovtf analyze mobilenetv2.keras` (MobileNetV2, random weights, built here)
placement-*.png        the placement picture of that model (`--html`), collapsed and expanded
The terminal ones are rich's own SVG rendering of the command's output, photographed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def chromium(url, png, width, height):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        "--virtual-time-budget=5000", f"--screenshot={png}", url],
                       check=True, capture_output=True, timeout=120)
    print("wrote", os.path.relpath(png))


def terminal(render, name, title, width=110, height=700):
    from rich.console import Console

    console = Console(record=True, width=width, file=open(os.devnull, "w"))
    render(console)
    with tempfile.TemporaryDirectory() as directory:
        svg = os.path.join(directory, f"{name}.svg")
        console.save_svg(svg, title=title)
        chromium(f"file://{svg}", os.path.join(HERE, f"{name}.png"), width * 9 + 60, height)


def main():
    import ovtf  # noqa: F401  (first: keeps TensorFlow's start-up notices quiet)
    import keras
    from ovtf import cli
    from ovtf.cli import models

    terminal(lambda c: cli.print_info(cli.info_data(), c), "ovtf-info", "ovtf info", height=760)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "mobilenetv2.keras")
        keras.utils.set_random_seed(0)
        keras.applications.MobileNetV2(weights=None).save(path)
        model = models.load(path)
        minimum = ovtf.get_min_cluster_size()
        results = cli.analyze_model(model, "CPU", minimum)
        terminal(lambda c: cli.print_analysis("mobilenetv2.keras", model.format, "CPU", minimum,
                                              results, c),
                 "ovtf-analyze", "ovtf analyze mobilenetv2.keras", height=300)
        page = results[0]["report"].to_html(os.path.join(directory, "placement.html"),
                                            title="ovtf placement: mobilenetv2.keras on CPU")
        chromium(f"file://{page}", os.path.join(HERE, "placement-mobilenetv2.png"), 1300, 700)
        chromium(f"file://{page}#expanded", os.path.join(HERE, "placement-mobilenetv2-expanded.png"),
                 1300, 900)
        chromium(f"file://{page}#search=block_3_expand",
                 os.path.join(HERE, "placement-mobilenetv2-search.png"), 1300, 900)


if __name__ == "__main__":
    sys.exit(main())
