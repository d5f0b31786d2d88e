"A real IPython kernel (ipykernel over ZeroMQ) that tests drive cell by cell."
from __future__ import annotations
from dataclasses import dataclass, field
from jupyter_client.manager import start_new_kernel


@dataclass
class CellResult:
    status: str
    stdout: str = ""
    stderr: str = ""
    data: list = field(default_factory=list)  # display_data / execute_result bundles
    ename: str = ""
    evalue: str = ""
    traceback: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + "".join(d.get("text/plain", "") for d in self.data)


class Kernel:
    def __init__(self, cwd=None):
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd) if cwd else None)

    def run(self, code: str, timeout: float = 600) -> CellResult:
        res = CellResult("ok")

        def hook(msg):
            t, c = msg["msg_type"], msg["content"]
            if t == "stream": setattr(res, c["name"], getattr(res, c["name"]) + c["text"])
            elif t in ("display_data", "execute_result"): res.data.append(c["data"])
            elif t == "error": res.ename, res.evalue, res.traceback = c["ename"], c["evalue"], c["traceback"]
        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        res.status = reply["content"]["status"]
        return res

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def project_kernel(tmp_path_factory, name: str, settings: str):
    "Start a kernel in a fresh project folder holding `settings` as its settings.ini, with the magics loaded."
    proj = tmp_path_factory.mktemp(name)
    (proj / "settings.ini").write_text(settings)
    k = Kernel(cwd=proj)
    r = k.run("%load_ext jupyter_llmops")
    assert r.status == "ok", r
    return k, proj
