"""Arch presets, files and validation; mapping validation."""

import json

import numpy as np
import pytest

import workloads as w
from costmodels import (
    NOCS,
    ArchError,
    MappingError,
    arch_from_dict,
    get_arch,
    load_arch,
    make_mapping,
    mapping_from_dict,
    preset,
    preset_dict,
    preset_names,
    validate_mapping,
)


def test_presets_load_and_roundtrip(tmp_path):
    assert {"explainable_default", "eyeriss_template", "tiny"} <= set(preset_names())
    for name in preset_names():
        a = preset(name)
        d = a.to_dict()
        assert len(d["noc_links"]) == len(NOCS)
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(d))
        b = load_arch(f)
        for k, v in d.items():
            np.testing.assert_allclose(np.asarray(getattr(b, k)), v)
    assert float(preset("eyeriss_template").num_pes) == 168


def test_yaml_arch_file_and_get_arch(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text(
        "num_pes: 512\nl1_bytes: 128\nl2_kib: 512\ndram_mb_per_s: 8192\n"
        "noc_width_bits: [64, 64, 32, 32]\nnoc_links: 8\nnoc_virtual: 64\n"
    )
    a = get_arch(str(f))
    assert float(a.num_pes) == 512
    np.testing.assert_allclose(a.noc_width_bits, [64, 64, 32, 32])
    assert get_arch("tiny").num_pes == preset("tiny").num_pes


@pytest.mark.parametrize(
    "change, field",
    [
        ({"num_pes": -4}, "num_pes"),
        ({"l1_bytes": "big"}, "l1_bytes"),
        ({"noc_links": [1, 2, 3]}, "noc_links"),
        ({"noc_links": 1024}, "noc_links[0]"),
        ({"colour": "red"}, "colour"),
        ({"dram_mb_per_s": float("nan")}, "dram_mb_per_s"),
    ],
)
def test_bad_arch_fields_are_named(change, field):
    d = {**preset_dict("explainable_default"), **change}
    with pytest.raises(ArchError, match=field.replace("[", r"\[").replace("]", r"\]")):
        arch_from_dict(d)


def test_missing_field_and_bad_files(tmp_path):
    d = preset_dict("tiny")
    del d["l2_kib"]
    with pytest.raises(ArchError, match="l2_kib"):
        arch_from_dict(d)
    with pytest.raises(ArchError, match="expected a preset name"):
        get_arch("no_such_arch")
    f = tmp_path / "bad.yaml"
    f.write_text("num_pes: [1, 2\n")
    with pytest.raises(ArchError, match="syntax error"):
        load_arch(f)
    with pytest.raises(ArchError, match="expected an existing arch file"):
        load_arch(tmp_path / "missing.yaml")


def test_mapping_validation():
    layer = w.raw("l", {"K": 4, "C": 6})
    validate_mapping(layer, make_mapping(spatial={"K": 4}, l1={"C": 6}))
    validate_mapping(layer, make_mapping(spatial={"K": 4}, l1={"C": 7}))  # padding is allowed
    with pytest.raises(MappingError, match="factors.C"):
        validate_mapping(layer, make_mapping(spatial={"K": 4}, l1={"C": 3}))
    with pytest.raises(MappingError, match="l1.C"):
        make_mapping(l1={"C": 0})
    with pytest.raises(MappingError, match="order.l2"):
        make_mapping(order={"l2": "KKC"})
    with pytest.raises(MappingError, match="spatial"):
        make_mapping(spatial={"Z": 2})


def test_mapping_dict_roundtrip_and_describe():
    m = make_mapping(dram={"K": 2}, l2={"P": 7}, spatial={"K": 16}, l1={"C": 3}, order={"dram": "KC", "l2": "PQ"})
    m2 = mapping_from_dict(m.to_dict())
    np.testing.assert_array_equal(np.asarray(m.temporal), np.asarray(m2.temporal))
    np.testing.assert_array_equal(np.asarray(m.order), np.asarray(m2.order))
    assert m.describe() == "DRAM: K2 | L2: P7 | spatial: K16 | L1: C3"
