"""A small OpenAI-compatible HTTP server on 127.0.0.1 whose faults a test scripts.

It runs an asyncio HTTP/1.1 server (keep-alive, Content-Length bodies) in a
daemon thread. Each POST takes the next action from `script` (then "ok"):

    "ok"                      answer normally
    ("status", code, headers) answer with that status and an error body
    "drop"                    send the headers and half the body, then close
    "close"                   close the connection without answering
    "nologprobs"              answer normally but leave out logprobs
    ("slow", seconds)         wait, then answer normally

Every sample it serves carries a serial number in its text, so a test can
tell lost samples from duplicated ones. `served` lists those serials (for
answers actually written in full).
"""
from __future__ import annotations

import asyncio
import json
import threading

EOS = "<|im_end|>"


def sample_tokens(serial: int, length: int) -> list[str]:
    """A sample's tokens: a code block naming its serial number, padded to `length` tokens."""
    head = ["```", "python", "\n", f"# sample {serial}", "\n"]
    body = [f"x{i % 10}" if i % 2 else " =" for i in range(max(0, length - len(head) - 2))]
    return (head + body + ["\n", "```"])[:length] if length >= len(head) + 2 else head[:length]


def token_logprob(serial: int, i: int) -> float:
    return -round(0.05 + ((serial * 31 + i * 7) % 97) / 40.0, 6)


class FakeServer:
    def __init__(self, script=None, tokens_per_sample: int = 8, max_choices: int | None = None,
                 eos_in_logprobs: bool = True, prompt_logprobs: bool = True, canned: bool = False,
                 model: str = "fake-model", owned_by: str = "fake", logprobs_need_top: bool = False):
        self.script = list(script or [])
        self.tokens_per_sample = tokens_per_sample
        self.max_choices = max_choices          # simulate a server that caps n
        self.eos_in_logprobs = eos_in_logprobs  # list the stop token, as vLLM does
        self.prompt_logprobs = prompt_logprobs  # support echo / prompt_logprobs scoring
        self.canned = canned                    # same body for every request of one n (benchmarks)
        self.model = model
        self.owned_by = owned_by                # llama-cpp-python's server says "me"
        self.logprobs_need_top = logprobs_need_top  # chat logprobs only with top_logprobs >= 1, as there
        self.requests: list[tuple[str, dict, dict]] = []
        self.served: list[int] = []
        self._serial = 0
        self._canned: dict[tuple, bytes] = {}
        self._ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.port = None

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self):
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _shutdown(self):
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(asyncio.start_server(self._conn, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    # -- HTTP ------------------------------------------------------------------------

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self._handle(method, path, headers, body, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _write(self, writer, status: int, payload: bytes, extra_headers=None, cut: bool = False):
        head = [f"HTTP/1.1 {status} X", "Content-Type: application/json",
                f"Content-Length: {len(payload)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        writer.write(payload[: len(payload) // 2] if cut else payload)
        await writer.drain()

    async def _handle(self, method, path, headers, raw, writer) -> bool:
        if method == "GET" and path.endswith("/models"):
            await self._write(writer, 200, json.dumps({"data": [{"id": self.model, "owned_by": self.owned_by}]}).encode())
            return True
        if not path.startswith("/v1/"):
            await self._write(writer, 404, b'{"detail": "Not Found"}')
            return True
        body = json.loads(raw or b"{}")
        self.requests.append((path, body, headers))
        action = self.script.pop(0) if self.script else "ok"
        kind = action if isinstance(action, str) else action[0]
        if kind == "close":
            return False
        if kind == "status":
            code, extra = action[1], (action[2] if len(action) > 2 else {})
            err = {"error": {"message": f"scripted {code}", "type": "scripted"}}
            await self._write(writer, code, json.dumps(err).encode(), extra)
            return True
        if kind == "slow":
            await asyncio.sleep(action[1])
        if body.get("model") != self.model:
            err = {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}}
            await self._write(writer, 404, json.dumps(err).encode())
            return True
        hide = kind == "nologprobs" or (self.logprobs_need_top and path.endswith("/chat/completions")
                                        and not body.get("top_logprobs"))
        payload, serials = self._answer(path, body, with_logprobs=not hide)
        try:
            await self._write(writer, 200, payload, cut=kind == "drop")
        except ConnectionError:
            return False            # the client gave up (timeout): the answer never arrived
        if kind == "drop":
            return False
        self.served += serials
        return True

    # -- bodies ----------------------------------------------------------------------

    def _answer(self, path: str, body: dict, with_logprobs: bool) -> tuple[bytes, list[int]]:
        if body.get("echo") or body.get("prompt_logprobs") is not None:
            return self._score_answer(path, body), []
        n = int(body.get("n", 1))
        if self.max_choices:
            n = min(n, self.max_choices)
        chat = path.endswith("/chat/completions")
        if self.canned and with_logprobs:
            key = (chat, n)
            if key not in self._canned:
                self._canned[key] = json.dumps(self._completion(chat, body, n, True, serial0=0)).encode()
            return self._canned[key], []
        serial0 = self._serial
        self._serial += n
        return json.dumps(self._completion(chat, body, n, with_logprobs, serial0)).encode(), \
            list(range(serial0, serial0 + n))

    def _completion(self, chat: bool, body: dict, n: int, with_logprobs: bool, serial0: int) -> dict:
        length = min(self.tokens_per_sample, int(body.get("max_tokens", 10**9)))
        choices = []
        for j in range(n):
            serial = serial0 + j
            toks = sample_tokens(serial, length)
            lps = [token_logprob(serial, i) for i in range(len(toks))]
            finish = "length" if length < self.tokens_per_sample else "stop"
            listed, listed_lps = list(toks), list(lps)
            if finish == "stop" and self.eos_in_logprobs:
                listed.append(EOS)
                listed_lps.append(-0.01)
            text = "".join(toks)
            if chat:
                lp = {"content": [{"token": t, "logprob": v, "bytes": list(t.encode()), "top_logprobs": []}
                                  for t, v in zip(listed, listed_lps)]}
                choice = {"index": j, "message": {"role": "assistant", "content": text},
                          "logprobs": lp if with_logprobs else None, "finish_reason": finish}
            else:
                offs, pos = [], 0
                for t in listed:
                    offs.append(pos)
                    pos += len(t)
                lp = {"tokens": listed, "token_logprobs": listed_lps, "text_offset": offs,
                      "top_logprobs": [{t: v} for t, v in zip(listed, listed_lps)]}
                choice = {"index": j, "text": text, "logprobs": lp if with_logprobs else None,
                          "finish_reason": finish}
            choices.append(choice)
        return {"id": f"cmpl-{serial0}", "object": "chat.completion" if chat else "text_completion",
                "model": self.model, "choices": choices,
                "usage": {"prompt_tokens": 11, "completion_tokens": n * length,
                          "total_tokens": 11 + n * length}}

    def _score_answer(self, path: str, body: dict) -> bytes:
        """Prompt logprobs: each character of the prompt is one token."""
        if path.endswith("/chat/completions"):
            msgs = body["messages"]
            text = "".join(f"<{m['role']}>{m['content']}" for m in msgs)
            entries = [None] + [{str(1000 + i): {"logprob": -0.5 - (i % 3) / 10, "rank": 1, "decoded_token": c}}
                                for i, c in enumerate(text[1:], start=1)]
            out = {"id": "s", "choices": [{"index": 0, "message": {"role": "assistant", "content": "!"},
                                           "logprobs": None, "finish_reason": "length"}],
                   "usage": {"prompt_tokens": len(text), "completion_tokens": 1}}
            if self.prompt_logprobs:
                out["prompt_logprobs"] = entries
            return json.dumps(out).encode()
        text = body["prompt"]
        toks = list(text) + ["!"]
        lps = [None] + [-0.5 - (i % 3) / 10 for i in range(1, len(toks))]
        lp = {"tokens": toks, "token_logprobs": lps, "text_offset": list(range(len(toks))),
              "top_logprobs": [None] + [{t: v} for t, v in zip(toks[1:], lps[1:])]}
        if not self.prompt_logprobs:    # a server that ignores echo: only the generated token
            lp = {"tokens": ["!"], "token_logprobs": [-0.1], "text_offset": [0], "top_logprobs": [{"!": -0.1}]}
        return json.dumps({"id": "s", "choices": [{"index": 0, "text": text + "!", "logprobs": lp,
                                                    "finish_reason": "length"}],
                           "usage": {"prompt_tokens": len(text), "completion_tokens": 1}}).encode()
