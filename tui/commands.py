"""Command palette: the current screen's commands, and jumps to any run or task in the database."""
from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenCommands(Provider):
    """Asks the current screen for its commands (`palette_commands()`)."""

    def _commands(self):
        getter = getattr(self.screen, "palette_commands", None)
        return list(getter()) if getter else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, partial(callback), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(callback), text=name, help=help_text)


def jump_label(target: dict) -> tuple[str, str]:
    """(command text, help) for a run or a task of a run."""
    name = f" ({target['name']})" if target.get("name") else ""
    if target["task_id"] is None:
        return f"Run {target['run_id']}{name}", f"Follow or browse run {target['run_id']}"
    return (f"Task {target['task_id']} of run {target['run_id']}",
            f"{target.get('task_name') or ''}: its samples ranked, picks and diffs".lstrip(": "))


class JumpCommands(Provider):
    """"Run 7", "Task L1/12 of run 7": open any run's live view or any task's candidates."""

    async def startup(self) -> None:
        try:
            self.targets = await asyncio.to_thread(self.app.data.jump_targets)
        except Exception:  # noqa: BLE001 - a database being written to: the palette still opens
            self.targets = []

    def _callback(self, target: dict):
        if target["task_id"] is None:
            return partial(self.app.goto_run, target["run_id"])
        return partial(self.app.goto_task, target["run_id"], target["task_id"])

    async def discover(self) -> Hits:
        for target in self.targets:
            if target["task_id"] is None:
                text, help_text = jump_label(target)
                yield DiscoveryHit(text, self._callback(target), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for target in self.targets:
            text, help_text = jump_label(target)
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._callback(target), text=text, help=help_text)
