"""A chat prompt (a list of messages) registered with MLflow's own API, asked and evaluated through the kit's command
grammar (what `%%llmops ask` and `%llmops prompt eval` run) on the real local model: the kit refused it before."""
import json
import mlflow
import pytest
from jupyter_llmops import prompts
from jupyter_llmops.commands.core import dispatch
from jupyter_llmops.config import load_settings
from jupyter_llmops.recorder import flush

USER = {"role": "user", "content": "What is the capital of {{country}}?"}


def test_a_chat_prompt_is_asked_with_its_messages_and_evaluated_against_a_text_version(tmp_path, capsys):
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path / "h"), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "chat"}).updated(eval_on_record="off")
    ml = prompts._mlflow(s)
    ml.genai.register_prompt("capital-chat", [{"role": "system", "content": "Answer with one word."}, USER])
    ml.genai.register_prompt("capital-chat", [{"role": "system", "content": "You answer as {{style}}."}, USER])
    prompts.register("capital-chat", "What is the capital of {{country}}? One word.", settings=s)  # v3: a text version of the same name
    ans = dispatch(["ask", "--prompt", "capital-chat/2", "--max-tokens", "8"], cell="style: a geography teacher\ncountry: France",
                   frontend="magic", settings=s)
    assert ans.prompt == ("capital-chat", 2) and ans.text and ans.trace_id
    assert flush()
    trace = mlflow.get_trace(ans.trace_id)
    assert trace.info.tags["llmops.prompt"] == "capital-chat/2"
    sent = json.dumps(trace.data.spans[0].inputs)  # the messages themselves went to the model, the system one included
    assert json.dumps({"role": "system", "content": "You answer as a geography teacher."}) in sent
    assert json.dumps({"role": "user", "content": "What is the capital of France?"}) in sent and "[system]" not in sent
    assert prompts.show("capital-chat/2", s).traces == [ans.trace_id]
    data = tmp_path / "cases.jsonl"
    data.write_text("\n".join(json.dumps(c) for c in [{"country": "France", "style": "a sailor", "expected": "Paris"},
                                                      {"country": "Italy", "style": "a sailor", "expected": "Rome"}]))
    res = dispatch(["prompt", "eval", "capital-chat", "--versions", "1,2,3", "--data", str(data), "--scorers", "contains,latency",
                    "--max-tokens", "8"], settings=s)
    assert sorted(res.summary.index) == [1, 2, 3] and set(res.summary.columns) == {"contains", "latency"}
    assert res.cases.answer.notna().all() and (res.cases.answer.str.len() > 0).all() and res.failed == {1: 0, 2: 0, 3: 0}
    assert len(prompts.show("capital-chat/1", s).traces) == 2  # each evaluated call of the chat version keeps its lineage
    assert mlflow.get_run(res.run_id).data.tags["llmops.prompt_eval"] == "capital-chat"


def test_a_chat_prompt_is_registered_from_a_cell_as_prompt_show_writes_it(tmp_path):
    from jupyter_llmops.errors import UsageError
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path / "h"), "HOME": str(tmp_path)})
    cell = "[system] You answer as {{style}}.\nKeep it short.\n[user] What is the capital of {{country}}?\n"
    r = dispatch(["prompt", "trip", "--chat"], cell=cell, frontend="magic", settings=s)
    assert (r.version, r.created) == (1, True)
    assert prompts.render("trip/1", s, style="a poet", country="Peru").messages == [
        {"role": "system", "content": "You answer as a poet.\nKeep it short."}, {"role": "user", "content": "What is the capital of Peru?"}]
    shown = prompts.show("trip/1", s).template  # what `prompt show` prints, registered again: the same version
    again = dispatch(["prompt", "trip", "--chat"], cell=shown, frontend="magic", settings=s)
    assert (again.version, again.created) == (1, False)
    with pytest.raises(UsageError, match="first line names a role") as e:
        dispatch(["prompt", "trip", "--chat"], cell="You answer briefly.\n[user] {{q}}", frontend="magic", settings=s)
    assert "[system]" in e.value.hint
