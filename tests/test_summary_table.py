"""archspec's own summary table (static: nothing allocated or run) and `archspec list`'s YAML defaults."""
from __future__ import annotations

import archspec
from archspec.cli import main
from archspec.diff import diff_text
from archspec.summary import summary_text
from archspec.table import node_facts
from conftest import SPECS

# a batch norm on a 1x1 map and one on features: a forward at batch 1 in training mode would fail on
# both (torchinfo's way); the static table does not run the network
BN_1X1 = """name: bn_small
input: [3, 8, 8]
network:
  - conv: {type: conv, out_channels: 4, kernel_size: 3, padding: 1}
  - pool: adaptive_avgpool
  - bn_map: bn
  - flatten
  - fc: {type: linear, out_features: 6}
  - bn_feat: bn
"""


def table_rows(text: str) -> list[str]:
    """The table's body: the lines between the header's rule and the closing rule."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line) == {"-"}]
    return lines[rules[1] + 1: rules[2]]


def test_batch_norm_on_a_1x1_map_and_on_features(write_spec) -> None:
    out = summary_text(write_spec(BN_1X1))
    assert table_rows(out) == [
        "bn_small  network           (B, 6)           162  6,936",
        "input     input             (B, 3, 8, 8)       0      0",
        "conv      conv              (B, 4, 8, 8)     112  6,912",
        "pool      adaptive_avgpool  (B, 4, 1, 1)       0      0",
        "bn_map    bn                (B, 4, 1, 1)       8      0",
        "0         flatten           (B, 4)             0      0",
        "fc        linear            (B, 6)            30     24",
        "bn_feat   bn                (B, 6)            12      0",
    ]
    assert out.splitlines()[-4:] == ["Total params: 162", "Trainable params: 162", "Non-trainable params: 0",
                                     "Total MACs: 6,936 per sample (6.94 K)"]


def test_user_blocks_and_merges_show_shape_params_and_macs() -> None:
    rows = table_rows(summary_text(SPECS / "mnist_inception.yaml", depth=2))
    assert rows[5] == "incep1           InceptionA  (B, 88, 12, 12)  19,104  2,730,240"
    assert rows[14] == "  (concat)       concat      (B, 88, 12, 12)       0          0"
    assert rows[18] == "incep2           InceptionA  (B, 88, 4, 4)    19,824    314,880"  # 20 channels in: 19,680 weights * 16 positions
    assert len(table_rows(summary_text(SPECS / "mnist_inception.yaml", depth=1))) == len(rows) - 2 * 9


def test_training_only_heads_count_and_eval_macs_are_named() -> None:
    head = summary_text(SPECS / "googlenet.yaml", depth=1).splitlines()
    assert head[4] == "MACs:       1,578,199,040 per sample (1,569,826,816 in eval mode)"
    assert head[-1] == "Total MACs: 1,578,199,040 per sample (1.58 G); training-only outputs included"


def test_macs_agree_with_diff_and_per_block_rules() -> None:
    # torchinfo reported 322 M here (it did not descend into scopes holding layer_scale); the blocks' own
    # rules give 4.458 G, as diff and `list --models` do
    a = archspec.analyze("convnext_tiny")
    per_block = sum(f[3] for f in node_facts(a.graph, a.shapes).values())
    assert per_block == 4_457_676_288
    text = summary_text("convnext_tiny", depth=1)
    assert f"MACs:       {per_block:,} per sample" in text and "Units." not in text
    assert f"MACs {per_block:,} -> {per_block:,}" in diff_text(a, a)


def test_list_prints_yaml_defaults_and_whole_descriptions(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tap: A side output: runs `body` on the current value and emits it as a named output; the main flow " \
           "continues unchanged (GoogLeNet's aux heads).\n" in out
    assert "    when               true or false; default true. include this block only when true" in out
    assert "    stride             a positive integer or a pair [h, w], or null; default null. window step" in out
    assert "    init               zeros, ones, constant, normal or trunc_normal; default zeros. initial values" in out
    for python_only in ("default True", "default False", "default None", "default '"):
        assert python_only not in out
