"""Which block names a spec may use: any name nn.Module accepts, except those that would shadow an
attribute of the compiled module (every level is an nn.Module, the top an fx.GraphModule) or break
the generated code. Kept as data so the spec stage needs no torch; tests/test_names.py checks the list
against torch's classes."""
from __future__ import annotations

import keyword
import unicodedata

# public attributes of nn.Module and fx.GraphModule, and archspec's own on the compiled module
RESERVED = frozenset("""
add_module apply bfloat16 buffers call_super_init children code compile cpu cuda delete_all_unused_submodules
delete_submodule double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule graph half ipu load_state_dict meta modules mtia named_buffers named_children named_modules
named_parameters parameters print_readable recompile register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory
state_dict to to_empty to_folder train training type xpu zero_grad output_names add_submodule shape_env
""".split()) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)


def read_as(name: str) -> str | None:
    """The name Python reads where `name` is written as an identifier (it NFKC-normalises them: `º` is
    `o`), or None when that is `name` itself."""
    normal = unicodedata.normalize("NFKC", name) if isinstance(name, str) else name
    return None if normal == name else normal


def spelling_problem(name: str) -> str | None:
    """Why a parameter, let or index name cannot be read by expressions as written, or None: `${º}`
    would silently read `o`'s value."""
    other = read_as(name)
    return None if other is None else f"is read by Python as '{other}' (Unicode NFKC) in expressions; write it that way"


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a block, or None when it can."""
    if not name:
        return "is empty"
    if "." in name:
        return "contains '.', which separates levels of the module tree"
    if any(c.isspace() for c in name):
        return "contains white space"
    if not name.isprintable():
        return "contains a control character"
    if '"' in name or "\\" in name:
        # the generated forward reaches a child as getattr(parent, "NAME"): a quote or backslash would
        # end or escape that string, and the rest of the name would run as code
        return "contains a quote or backslash, which the generated forward cannot spell"
    if read_as(name) is not None:  # `self.º` is `self.o`: the forward would call another block
        return f"is read by Python as '{read_as(name)}' (Unicode NFKC), which would call another block; write it that way"
    if name in RESERVED:
        return "is taken by the compiled module (an attribute of nn.Module or a Python keyword); choose another name"
    if name.startswith("_"):
        return "starts with '_', which the compiled module keeps for its own attributes"
    return None
