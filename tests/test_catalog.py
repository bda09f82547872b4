"""Every torchvision classifier is a shipped spec or a variant of one, buildable by name."""
from __future__ import annotations

import torchvision

from archspec.catalog import models


def test_every_torchvision_classifier_has_a_spec() -> None:
    names = set(torchvision.models.list_models(module=torchvision.models))
    assert len(names) >= 80
    assert names - set(models()) == set()


def test_googlenet_by_name_is_torchvisions_and_the_seed_keeps_its_file() -> None:
    path, variant = models()["googlenet"]
    assert (path.name, variant) == ("googlenet_tv.yaml", "googlenet")
    assert models()["googlenet_tv"][0].name == "googlenet_tv.yaml"
