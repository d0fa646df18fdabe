"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, OpenAI itself) over HTTP.

Requests go out asynchronously (httpx) on an event loop in a background
thread; `generate` is a plain iterator that hands each sample over as soon as
the request that produced it completes. Samples of one request (`n` > 1)
arrive together; samples of concurrent requests arrive one request at a time.

Every request asks for per-token logprobs of the sampled tokens. vLLM and
llama.cpp return the raw log-softmax of the model's logits by default
(logprob_mode "raw"); a server told to return processed logprobs (vLLM's
`--logprobs-mode processed_logprobs`) must be recorded with
`logprob_mode="processed"` so its surprisals are never pooled with raw ones.

The API key is read from the environment variable *named* by `api_key_env`
(only the name is stored with a run). It is kept wrapped, so no repr, vars()
or traceback shows it, unwrapped only into the HTTP client's headers, and
scrubbed from any server message an error repeats.
"""
from __future__ import annotations

import asyncio
import codecs
import email.utils
import gc
import itertools
import json
import logging
import os
import queue
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import httpx

from ..types import Generation, SamplingParams
from .base import BackendError, Capabilities, Prompt, check_counts

log = logging.getLogger(__name__)

ENDPOINTS = ("chat", "completions")
LOGPROB_MODES = ("raw", "processed")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# A Retry-After beyond this means "come back much later", not "back off a bit".
MAX_RETRY_AFTER_S = 300.0
# Tokens some servers report for the end-of-sequence they stopped on.
_SPECIAL_TOKEN = re.compile(r"^(<\|[^|<>]*\|>|</s>|<eos>|<\|endoftext\|>)$")


class _Retryable(Exception):
    """A failure worth another attempt (429, 5xx, timeout, dropped connection)."""

    def __init__(self, what: str, retry_after: float | None = None):
        super().__init__(what)
        self.retry_after = retry_after


class _NoLogprobs(BackendError):
    """A response without per-token logprobs."""


class _Secret:
    """A value that never shows itself in a repr, a traceback's locals or vars()."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _LoopThread:
    """An asyncio event loop running in a daemon thread, for the backend's lifetime."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sgs-openai-loop", daemon=True)
        self.thread.start()

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


@dataclass
class _Request:
    """One HTTP request's share of a generate() call: `n` samples starting at `first`."""

    first: int
    n: int


def _loads(raw: bytes):
    """json.loads with the cyclic garbage collector paused.

    A completion with per-token logprobs decodes into thousands of small
    dicts; each few hundred allocations wake the collector, which re-scans
    the growing tree (about a quarter of a client's CPU time at 1024 tokens x 8
    samples). A decoded JSON tree holds no reference cycles, so nothing is
    lost by collecting after it is built. A collector someone else turned off
    stays off.
    """
    if not gc.isenabled():
        return json.loads(raw)
    gc.disable()
    try:
        return json.loads(raw)
    finally:
        gc.enable()


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _char_offsets(tokens: list[str], token_bytes: list | None = None) -> list[int]:
    """Character offset of each token in the concatenated text.

    Without byte lists: running sums of token lengths. With them (a server
    whose token strings do not spell the text, e.g. a token holding part of a
    multi-byte character): offsets count whole decoded characters, so a token
    that completes a character starts where that character starts.
    """
    if token_bytes is None or len(token_bytes) != len(tokens) or not all(isinstance(b, list) for b in token_bytes):
        offsets = list(itertools.accumulate(map(len, tokens), initial=0))
        offsets.pop()                 # the last sum is the end of the text, not a token start
        return offsets
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    offsets, pos = [], 0
    for b in token_bytes:
        offsets.append(pos)
        pos += len(decoder.decode(bytes(b)))
    return offsets


def _drop_stop_token(text: str, tokens: list[str], finish_reason: str | None, spelled: str | None = None) -> bool:
    """Whether the last token is the end-of-sequence token a server included.

    Surprisal excludes the stop token. Servers differ: some list it (as "" or
    as a special token such as <|im_end|>), some do not; it is recognised as a
    last token that is empty, special-looking, or absent from the text.
    """
    if finish_reason != "stop" or not tokens:
        return False
    last = tokens[-1]
    if last == "" or _SPECIAL_TOKEN.match(last):
        return True
    spelled = "".join(tokens) if spelled is None else spelled
    return spelled != text and spelled[: len(spelled) - len(last)] == text


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        endpoint: str = "chat",
        max_n: int = 8,
        concurrency: int = 8,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        logprob_mode: str = "raw",
        extra_body: dict | None = None,
        **unknown: object,
    ):
        """
        model: the model name the server knows.
        base_url: the server's API root, e.g. http://localhost:8000/v1
            (default $OPENAI_BASE_URL, else OpenAI's).
        api_key_env: NAME of the environment variable holding the key; unset
            is fine for local servers that need none.
        endpoint: "chat" (/chat/completions, the server applies the chat
            template) or "completions" (/completions on the prompt's plain text).
        max_n: most samples asked of one request; 1 sends one request per
            sample (for servers that cap or ignore `n`).
        concurrency: most requests in flight at once, over all generate() calls.
        timeout_s: longest wait for the server's next bytes (a request that
            stalls past it is retried); connect_timeout_s: to open a connection.
        max_retries: further attempts after a 429, 5xx, timeout or dropped connection.
        backoff_s / max_backoff_s: exponential backoff with jitter between attempts.
        logprob_mode: "raw" (server default for vLLM and llama.cpp) or
            "processed" when the server was told to return processed logprobs.
        extra_body: more JSON fields for every request (server-specific options).
        """
        if unknown:
            raise BackendError(f"openai backend: unknown option(s) {', '.join(sorted(unknown))}")
        if endpoint not in ENDPOINTS:
            raise BackendError(f"openai backend: endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        if logprob_mode not in LOGPROB_MODES:
            raise BackendError(f"openai backend: logprob_mode must be one of {', '.join(LOGPROB_MODES)}, "
                               f"got {logprob_mode!r}")
        check_counts("openai", max_n=max_n, concurrency=concurrency)
        if not isinstance(api_key_env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
            # Guards against passing the key itself where its variable's name belongs.
            raise BackendError("openai backend: api_key_env must be the NAME of an environment variable")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key_env = api_key_env
        self.endpoint = endpoint
        self.max_n = max_n
        self.concurrency = concurrency
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.logprob_mode = logprob_mode
        self.extra_body = dict(extra_body or {})
        self.capabilities = Capabilities(logprobs=True, scoring=True, n=max_n > 1, local_device=None)
        # The key is read once and kept wrapped; it is unwrapped only into the
        # HTTP client's headers (see _client) and to scrub it from messages.
        key = os.environ.get(api_key_env) or None
        self._key = _Secret(key) if key else None
        self._n_cap: int | None = None        # learnt when a server returns fewer choices than asked
        self._echo_shifted: bool | None = None  # learnt on the first score()
        # Chat requests ask for no alternatives (top_logprobs) unless the server
        # returns logprobs only with them (llama-cpp-python): learnt on first use.
        self._chat_top_logprobs = False
        self._lock = threading.Lock()
        self._runner: _LoopThread | None = None
        self._http: httpx.AsyncClient | None = None
        self._sem: asyncio.Semaphore | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, endpoint={self.endpoint!r}, "
                f"api_key_env={self.api_key_env!r})")

    __str__ = __repr__

    # -- plumbing ---------------------------------------------------------------

    def _loop(self) -> _LoopThread:
        with self._lock:
            if self._closed:
                raise BackendError("openai backend is closed")
            if self._runner is None:
                self._runner = _LoopThread()
            return self._runner

    def _client(self) -> httpx.AsyncClient:
        # Created on the loop thread, once: one connection pool with keep-alive.
        if self._http is None:
            headers = {"Authorization": f"Bearer {self._key.reveal()}"} if self._key else {}
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
                limits=httpx.Limits(max_connections=self.concurrency,
                                    max_keepalive_connections=self.concurrency),
            )
            self._sem = asyncio.Semaphore(self.concurrency)
        return self._http

    def _redact(self, text: str) -> str:
        return text.replace(self._key.reveal(), "***") if self._key else text

    def _fail(self, message: str) -> BackendError:
        return BackendError(self._redact(_one_line(message, 300)))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runner, self._runner = self._runner, None
        if runner is not None:
            if self._http is not None:
                try:
                    runner.submit(self._http.aclose()).result(timeout=5)
                except Exception:  # noqa: BLE001 - closing a pool that is already gone needs no report
                    log.debug("openai backend: closing the connection pool failed", exc_info=True)
            runner.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- HTTP with retries ----------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        # Exponential backoff with jitter, so concurrent retries spread out.
        return min(self.max_backoff_s, self.backoff_s * 2 ** attempt) * random.uniform(0.5, 1.0)

    def _error_text(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
            err = body.get("error", body) if isinstance(body, dict) else body
            msg = err.get("message") or err.get("detail") or err if isinstance(err, dict) else err
        except (ValueError, AttributeError):
            msg = resp.text
        return _one_line(self._redact(str(msg)))

    async def _known_models(self) -> str:
        try:
            resp = await self._client().get("/models")
            names = [m.get("id") for m in resp.json().get("data", [])]
            return ", ".join(str(n) for n in names[:10] if n)
        except Exception:  # noqa: BLE001 - the list only decorates an error message
            log.debug("openai backend: no model list from %s/models", self.base_url, exc_info=True)
            return ""

    async def _post(self, path: str, body: dict) -> tuple[dict, float, int]:
        """POST with retries; returns (JSON body, seconds of the successful attempt, retries used)."""
        client = self._client()
        url = f"{self.base_url}{path}"
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            async with self._sem:
                started = time.perf_counter()
                try:
                    resp = await client.post(path, json=body)
                    if resp.status_code == 429 or resp.status_code >= 500:
                        raise _Retryable(f"HTTP {resp.status_code} {self._error_text(resp)}".strip(),
                                         _retry_after_s(resp.headers.get("retry-after")))
                    if resp.status_code >= 400:
                        raise await self._client_error(resp, url)
                    try:
                        data = _loads(resp.content)
                    except ValueError:
                        raise _Retryable("the response was not valid JSON") from None
                    return data, time.perf_counter() - started, attempt
                except _Retryable as e:
                    last, retry_after = str(e), e.retry_after
                except httpx.TimeoutException:
                    last = f"no answer within {self.timeout_s:g} s"
                except (httpx.TransportError, httpx.DecodingError) as e:
                    # Refused or dropped connections, bodies cut off mid-way.
                    last = f"connection failed ({type(e).__name__}: {_one_line(str(e), 80) or 'closed'})"
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                raise self._fail(f"{url}: the server asks to retry after {retry_after:.0f} s ({last}); try later")
            if attempt < self.max_retries:
                await asyncio.sleep(self._backoff(attempt, retry_after))
        raise self._fail(f"{url}: gave up after {self.max_retries + 1} attempts: {last}")

    async def _client_error(self, resp: httpx.Response, url: str) -> BackendError:
        msg = self._error_text(resp)
        code = resp.status_code
        if code in (401, 403):
            key_hint = (f"check ${self.api_key_env}" if self._key
                        else f"${self.api_key_env} is not set")
            return self._fail(f"{url}: HTTP {code}, the server refused the API key ({key_hint})")
        if "model" in msg.lower() and (code == 404 or re.search(r"not (exist|found)|unknown|invalid", msg, re.I)):
            known = await self._known_models()
            served = f"; it serves: {known}" if known else ""
            return self._fail(f"{self.base_url}: unknown model {self.model!r}{served}")
        if code == 404:
            return self._fail(f"{url}: HTTP 404 Not Found; is base_url the API root (usually ending in /v1)?")
        return self._fail(f"{url}: HTTP {code}: {msg}")

    # -- request building and response parsing --------------------------------------

    def _request_body(self, prompt: Prompt, n: int, params: SamplingParams, seed: int | None) -> tuple[str, dict]:
        body: dict = {"model": self.model, "n": n, "temperature": params.temperature,
                      "top_p": params.top_p, "max_tokens": params.max_tokens}
        if params.top_k and params.top_k > 0:
            body["top_k"] = params.top_k        # vLLM/llama.cpp extension; OpenAI ignores it
        if seed is not None:
            body["seed"] = seed
        if self.endpoint == "chat":
            body["messages"] = list(prompt.messages)
            body["logprobs"] = True
            if self._chat_top_logprobs:
                body["top_logprobs"] = 1
            path = "/chat/completions"
        else:
            body["prompt"] = prompt.text
            body["logprobs"] = 1                # top-1 alongside the sampled token: the widest-supported form
            path = "/completions"
        body.update(self.extra_body)
        return path, body

    def _parse_choice(self, choice: dict, url: str) -> tuple[str, list[str], list[float], list | None, str]:
        """(text, tokens, logprobs, the chat endpoint's per-token entries or None, the tokens joined)."""
        lp = choice.get("logprobs")
        content = None
        try:
            if self.endpoint == "chat":
                text = (choice.get("message") or {}).get("content") or ""
                content = lp.get("content") if isinstance(lp, dict) else None
                if content is None:
                    raise self._no_logprobs(url)
                tokens = [t["token"] for t in content]
                logprobs = [t["logprob"] for t in content]
            else:
                text = choice.get("text") or ""
                if not isinstance(lp, dict) or lp.get("token_logprobs") is None:
                    raise self._no_logprobs(url)
                tokens = list(lp.get("tokens") or [])
                logprobs = list(lp["token_logprobs"])
            spelled = "".join(tokens)   # TypeError unless every token is a string
            sum(logprobs)               # TypeError unless every logprob is a number
            if len(tokens) != len(logprobs):
                raise TypeError
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._fail(f"{url}: malformed logprobs in the response (tokens and logprobs do not match)") from None
        return text, tokens, logprobs, content, spelled

    def _no_logprobs(self, url: str) -> BackendError:
        return _NoLogprobs(self._redact(_one_line(
            f"{url}: the server returned no per-token logprobs for model {self.model!r}; "
            "sgs needs a server that supports `logprobs`", 300)))

    def _generation(self, choice: dict, data: dict, latency: float, retries: int, url: str) -> Generation:
        text, tokens, logprobs, content, spelled = self._parse_choice(choice, url)
        finish = choice.get("finish_reason")
        extra: dict = {"server_tokens": len(tokens)}
        if _drop_stop_token(text, tokens, finish, spelled):
            spelled = spelled[: len(spelled) - len(tokens[-1])]
            tokens.pop()                 # the lists are this call's own: trim in place
            logprobs.pop()
            extra["stop_token_dropped"] = True
        # Byte lists are read only when the token strings do not spell the text.
        token_bytes = None
        if content is not None and spelled != text:
            token_bytes = [t.get("bytes") for t in content[: len(tokens)]]
        offsets = _char_offsets(tokens, token_bytes)
        usage = data.get("usage") or {}
        if usage:
            extra["usage"] = usage
        if retries:
            extra["retries"] = retries
        if data.get("id"):
            extra["response_id"] = data["id"]
        reasoning = (choice.get("message") or {}).get("reasoning_content")
        if reasoning:
            extra["reasoning"] = reasoning
        return Generation(text=text, tokens=tokens, logprobs=logprobs, offsets=offsets,
                          finish_reason=finish, prompt_tokens=usage.get("prompt_tokens"),
                          latency_s=latency, extra=extra)

    # -- generate ----------------------------------------------------------------

    def _plan(self, k: int) -> list[_Request]:
        step = min(self.max_n, self._n_cap or self.max_n)
        return [_Request(first, min(step, k - first)) for first in range(0, k, step)]

    async def _run_request(self, prompt: Prompt, req: _Request, params: SamplingParams, out: queue.Queue) -> None:
        """Deliver exactly req.n samples; a server that returns fewer choices gets asked again."""
        first, wanted = req.first, req.n
        while wanted > 0:
            # Distinct seeds per request, or seeded requests would repeat each other's samples.
            seed = None if params.seed is None else params.seed + first
            path, body = self._request_body(prompt, wanted, params, seed)
            data, latency, retries = await self._post(path, body)
            url = f"{self.base_url}{path}"
            choices = data.get("choices")
            if not isinstance(choices, list) or not choices:
                raise self._fail(f"{url}: the response held no choices")
            choices = sorted(choices, key=lambda c: c.get("index", 0))[:wanted]
            try:
                gens = [self._generation(c, data, latency, retries, url) for c in choices]
            except _NoLogprobs:
                if self.endpoint != "chat" or body.get("top_logprobs"):
                    raise
                self._chat_top_logprobs = True   # ask again, with top_logprobs=1
                continue
            for g in gens:
                g.extra["request_n"] = wanted
            out.put(gens)                    # one hand-over per response: samples of a request finish together
            if len(choices) < wanted:
                self._n_cap = len(choices)   # the server caps n: split later calls to match
            first += len(choices)
            wanted -= len(choices)

    async def _generate_all(self, prompt: Prompt, k: int, params: SamplingParams, out: queue.Queue) -> None:
        self._client()
        tasks = [asyncio.ensure_future(self._run_request(prompt, r, params, out)) for r in self._plan(k)]
        try:
            for fut in asyncio.as_completed(tasks):
                await fut
        except BaseException as e:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not isinstance(e, asyncio.CancelledError):
                out.put(e if isinstance(e, BackendError) else self._fail(f"openai backend: {type(e).__name__}: {e}"))
            raise

    def generate(self, prompt: Prompt, k: int, params: SamplingParams) -> Iterator[Generation]:
        if k <= 0:
            return
        out: queue.Queue = queue.Queue()
        fut = self._loop().submit(self._generate_all(prompt, k, params, out))
        delivered = 0
        try:
            while delivered < k:
                item = out.get()
                if isinstance(item, BaseException):
                    raise item
                for g in item:
                    delivered += 1
                    yield g
        finally:
            if not fut.done():
                fut.cancel()   # the caller stopped early: abandon the requests still out

    # -- score -----------------------------------------------------------------

    def score(self, prompt: Prompt, completion: str) -> Generation:
        """Logprobs of `completion` after `prompt`, from the server's prompt logprobs.

        Completions endpoint: `echo=true` with `logprobs` (OpenAI legacy, vLLM,
        llama.cpp). Chat endpoint: vLLM's `prompt_logprobs` extension with the
        completion as a final assistant message that the template continues.
        """
        return self._loop().submit(self._score(prompt, completion)).result()

    def _cannot_score(self, why: str) -> BackendError:
        return self._fail(f"server cannot score: {self.base_url} {why}")

    async def _served_by_llama_cpp_python(self) -> bool:
        """llama-cpp-python's server lists its models as owned by "me"."""
        try:
            resp = await self._client().get("/models")
            return any(m.get("owned_by") == "me" for m in resp.json().get("data", []))
        except Exception:  # noqa: BLE001 - unknown server: take the general path
            log.debug("openai backend: cannot tell the server from %s/models", self.base_url, exc_info=True)
            return False

    async def _score(self, prompt: Prompt, completion: str) -> Generation:
        self._client()
        if self._echo_shifted is None:
            self._echo_shifted = await self._served_by_llama_cpp_python()
        if self._echo_shifted:
            # Its echo logprobs are shifted by one position (each prompt token is
            # scored under the distribution that follows it), so they would be
            # wrong rather than missing.
            raise self._cannot_score("is llama-cpp-python's server, whose prompt logprobs are shifted by "
                                     "one token")
        if self.endpoint == "completions":
            head = prompt.text
            path = "/completions"
            body = {"model": self.model, "prompt": head + completion, "echo": True, "logprobs": 1,
                    "max_tokens": 1, "temperature": 1.0}
        else:
            head = None
            path = "/chat/completions"
            body = {"model": self.model, "max_tokens": 1, "temperature": 1.0, "prompt_logprobs": 0,
                    "messages": list(prompt.messages) + [{"role": "assistant", "content": completion}],
                    "add_generation_prompt": False, "continue_final_message": True}
        body.update(self.extra_body)
        try:
            data, latency, retries = await self._post(path, body)
        except BackendError as e:
            if "HTTP 400" in str(e) or "HTTP 422" in str(e):
                raise self._cannot_score(f"rejected the scoring request ({e})") from None
            raise
        if self.endpoint == "completions":
            tokens, logprobs = self._echo_logprobs(data)
        else:
            tokens, logprobs = self._vllm_prompt_logprobs(data)
        # The prompt's tokens come first; the completion's are the ones that
        # start at or after the point where the completion begins.
        offsets = _char_offsets(tokens)
        total = offsets[-1] + len(tokens[-1]) if tokens else 0
        start = len(head) if head is not None and total == len(head + completion) else total - len(completion)
        keep = [i for i, off in enumerate(offsets) if off >= start]
        if not keep or start < 0:
            raise self._cannot_score("returned prompt logprobs that do not cover the completion")
        lps = [logprobs[i] for i in keep]
        if any(lp is None for lp in lps):
            raise self._cannot_score("returned prompt logprobs with gaps")
        usage = data.get("usage") or {}
        return Generation(text=completion, tokens=[tokens[i] for i in keep], logprobs=[float(x) for x in lps],
                          offsets=[offsets[i] - start for i in keep], finish_reason="scored",
                          prompt_tokens=len(tokens) - len(keep), latency_s=latency,
                          extra={"usage": usage, **({"retries": retries} if retries else {})})

    def _echo_logprobs(self, data: dict) -> tuple[list[str], list]:
        choice = (data.get("choices") or [{}])[0]
        lp = choice.get("logprobs") or {}
        tokens, logprobs = lp.get("tokens"), lp.get("token_logprobs")
        n_prompt = (data.get("usage") or {}).get("prompt_tokens")
        if not tokens or logprobs is None or len(tokens) != len(logprobs):
            raise self._cannot_score("returned no prompt logprobs for echo=true")
        if isinstance(n_prompt, int) and 0 < n_prompt <= len(tokens):
            tokens, logprobs = tokens[:n_prompt], logprobs[:n_prompt]   # drop the one generated token
        else:
            raise self._cannot_score("did not say how many tokens the echoed prompt has")
        if logprobs and all(x is None for x in logprobs):
            raise self._cannot_score("returned no prompt logprobs for echo=true")
        return list(tokens), list(logprobs)

    def _vllm_prompt_logprobs(self, data: dict) -> tuple[list[str], list]:
        entries = data.get("prompt_logprobs")
        if not isinstance(entries, list) or not entries:
            raise self._cannot_score("returned no prompt_logprobs (a vLLM extension)")
        tokens, logprobs = [], []
        for entry in entries:
            if not entry:                       # the first prompt token has no logprob
                tokens.append("")
                logprobs.append(None)
                continue
            # {token_id: {"logprob", "rank", "decoded_token"}}: with prompt_logprobs=0
            # the prompt's own token is the only entry (vLLM lists it first anyway).
            chosen = next(iter(entry.values()))
            tokens.append(chosen.get("decoded_token") or "")
            logprobs.append(chosen.get("logprob"))
        return tokens, logprobs
