"""The delete dialog's plan matches what rmi then does."""

from __future__ import annotations

from tests.conftest import MUSL_ID
from tests.tui.conftest import KANIKO_TAG, MUSL_TAG
from tui.model import image_refs
from tui.plan import plan_delete


def ref_of(engine, name: str):
    for img in engine.images():
        for r in image_refs(img):
            if r.ref == name:
                return r
    raise KeyError(name)


def test_plan_is_what_rmi_prints(loaded):
    plan = plan_delete(loaded, [ref_of(loaded, KANIKO_TAG)])
    (step,) = plan.steps
    assert not step.untag_only and step.layers == 14
    assert plan.title == f"Delete {KANIKO_TAG}?"
    printed = loaded.remove_image(KANIKO_TAG)
    assert printed[:2] == list(step.lines[:2])  # the untag, then the image
    assert sorted(printed) == sorted(step.lines)  # then the same layers
    assert step.freed == 1_326_410  # every layer of it: nothing is shared


def test_two_tags_of_one_image_untag_then_delete(loaded):
    loaded.tag(MUSL_TAG, "busybox:latest")
    targets = [ref_of(loaded, "busybox:latest"), ref_of(loaded, MUSL_TAG)]
    plan = plan_delete(loaded, targets)
    first, second = plan.steps
    assert first.untag_only and first.keeps == (MUSL_TAG,)
    assert not second.untag_only and f"Deleted: {MUSL_ID}" in second.lines
    printed = loaded.remove_image("busybox:latest") + loaded.remove_image(MUSL_TAG)
    assert sorted(printed) == sorted([*first.lines, *second.lines])
    assert printed[0] == first.lines[0] == "Untagged: busybox:latest"


def test_by_id_with_several_tags_is_refused(loaded):
    loaded.tag(MUSL_TAG, "busybox:latest")
    musl = next(i for i in loaded.images() if i.id == MUSL_ID)
    from tui.model import ImageRef

    plan = plan_delete(loaded, [ImageRef(musl, "<none>", "<none>", musl.id)])
    assert plan.refs == [] and "multiple repositories" in plan.steps[0].refused
    assert plan.title == "Nothing can be removed"


def test_shared_layers_are_kept(engine, tmp_path):
    from tests.tui.conftest import SHARED_TAGS, load_fixtures

    load_fixtures(engine, tmp_path, shared=True)
    (step,) = plan_delete(engine, [ref_of(engine, SHARED_TAGS[0])]).steps
    assert step.layers == 1  # the shared base stays for the other image
    assert sorted(engine.remove_image(SHARED_TAGS[0])) == sorted(step.lines)
