"""The placement picture (`PlacementReport.to_html`): self-contained, and drawn by a real
headless Chromium with every network request made to fail: one `node` element per graph
node, clusters collapsed on big graphs, a non-empty screenshot.

Chromium comes from Debian's package (`apt-get install chromium`, which scripts/bootstrap.sh
does where apt-get exists); without a browser the browser tests are skipped, saying so."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import tensorflow as tf

from ovtf import partitioner
from ovtf.cli import explain_arguments

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (apt-get install chromium); "
                "the page's own checks ran without it")


def _chromium(tmp_path, *arguments, url):
    command = [
        _browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
        # No network: every host resolves to nothing and any proxy use goes nowhere.
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
        "--virtual-time-budget=5000", *arguments, url]
    process = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-2000:]
    return process.stdout


def _graph(blocks: int, per_block: int):
    """`blocks` chains of `per_block` supported ops, separated by an unsupported Lgamma."""
    graph = tf.Graph()
    with graph.as_default():
        y = tf.compat.v1.placeholder(tf.float32, [2, 3], name="input")
        for block in range(blocks):
            for i in range(per_block):
                y = tf.sin(y, name=f"b{block}_sin{i}") if i % 2 == 0 else tf.multiply(
                    y, 1.5, name=f"b{block}_mul{i}")
            y = tf.math.lgamma(y, name=f"b{block}_lgamma")
        tf.identity(y, name="out")
    return graph.as_graph_def()


def _report(graph_def, min_size=2):
    return partitioner.explain(graph_def, ["out"], min_cluster_size=min_size,
                               **explain_arguments("CPU"))


def test_page_is_self_contained(tmp_path):
    graph_def = _graph(3, 6)
    path = _report(graph_def).to_html(tmp_path / "p.html", title="three blocks")
    text = open(path).read()
    assert "<title>three blocks</title>" in text
    # nothing the page would fetch: no external scripts, styles, images, fonts or imports
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", text)
    assert re.findall(r"https?://[^\s\"']+", text) == ["http://www.w3.org/2000/svg"] * 2
    for node in graph_def.node:
        assert f'"{node.name}"' in text            # every node is in the embedded data
    assert '"b0_lgamma"' in text and "UNSUPPORTED_OP" in text


def test_chromium_draws_every_node_offline(tmp_path):
    graph_def = _graph(3, 6)
    report = _report(graph_def)
    assert len(report.clusters) == 3
    path = report.to_html(tmp_path / "small.html")
    dom = _chromium(tmp_path, "--dump-dom", url=f"file://{path}")
    assert 'data-ready="1"' in dom                 # the page's script ran to the end
    assert len(re.findall(r'<g class="node[ "]', dom)) == len(graph_def.node)
    # each node left in TF shows its reason; clusters get distinct colours
    assert len(re.findall(r'<text class="why"[^>]*>UNSUPPORTED_OP<', dom)) == 3
    fills = set(re.findall(r'<rect [^>]*fill="(hsl\([^"]+\))"', dom))
    assert len(fills) >= 3, fills
    screenshot = tmp_path / "small.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1200,800",
              url=f"file://{path}#search=b1_sin")
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_thousand_node_graph_opens_collapsed(tmp_path):
    graph_def = _graph(20, 32)                     # ~1,000 nodes (ops and their constants)
    assert len(graph_def.node) >= 900
    report = _report(graph_def, min_size=16)
    path = report.to_html(tmp_path / "big.html")
    dom = _chromium(tmp_path, "--dump-dom", url=f"file://{path}")
    assert len(re.findall(r'<g class="node[ "]', dom)) == len(graph_def.node)
    units = int(re.search(r'data-units="(\d+)"', dom).group(1))
    # 20 cluster boxes, their folded constants, the Lgammas and the ends: far fewer boxes
    assert units < len(graph_def.node) / 5, units
    expanded = _chromium(tmp_path, "--dump-dom", url=f"file://{path}#expanded")
    assert int(re.search(r'data-units="(\d+)"', expanded).group(1)) > len(graph_def.node) / 2
