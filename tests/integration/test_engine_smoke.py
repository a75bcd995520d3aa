from tests.conftest import BPMN_DIR  # noqa: F401


def test_start_and_worklist(first_process):
    out = first_process.start("kim_first_referral", {}, case_ref="C-1")
    assert out["status"] == "running"
    tasks = first_process.tasks(office="KIM_CM")
    assert [t["element_id"] for t in tasks] == ["Task_Erfassen"]
