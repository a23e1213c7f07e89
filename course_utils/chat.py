"""Talk to a model: a small chat widget, and `Chat.ask()` as its text twin.

The chat is a conversation: each message is added to the messages so far and the whole conversation
is rendered by the tokenizer's chat template (`chat_template.render_prompt`), so the model reads its
earlier replies as it did in training on `support_chat` conversations. A model fine-tuned on single
turns only has never learned to use them (notebook 03 measures the difference). When the conversation
no longer fits the model's window, the oldest exchanges are left out of what the model reads (the
system message stays); `reset()` starts over. Decoding is greedy, as in the evaluations. Like the
quizzes, the widget carries a text/plain rendering for front-ends without widgets.
"""
from __future__ import annotations

import html

from .chat_template import render_prompt
from .evaluate import reply
from .widgets import display_widget, widgets_wanted


class Chat:
    def __init__(self, model, tokenizer, max_new_tokens: int = 64, title: str = "Chat with the model",
                 system: str | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens = max_new_tokens
        self.title = title
        self.system = system
        self.transcript: list[tuple[str, str]] = []

    def reset(self) -> None:
        """Forget the conversation: the next message starts a new one."""
        self.transcript = []

    def conversation(self, message: str) -> list[dict]:
        """What the model reads to answer `message`: the system message, the exchanges that still fit in
        its window beside `max_new_tokens` of reply, newest kept, and the message."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        new = [{"role": "user", "content": message}]
        window = self.model.config.n_positions - self.max_new_tokens
        for start in range(len(self.transcript) + 1):
            past = [{"role": role, "content": text} for exchange in self.transcript[start:]
                    for role, text in zip(("user", "assistant"), exchange)]
            messages = head + past + new
            if len(self.tokenizer(render_prompt(self.tokenizer, messages))["input_ids"]) <= window:
                return messages
        raise ValueError(f"the message alone is longer than the model's window of {self.model.config.n_positions} "
                         f"tokens with {self.max_new_tokens} left for the reply; shorten it")

    def respond(self, message: str) -> str:
        message = str(message).strip()
        if not message:
            raise ValueError("the message is empty; type a question or a request")
        answer = reply(self.model, self.tokenizer, [self.conversation(message)],
                       max_new_tokens=self.max_new_tokens)[0].strip()
        self.transcript.append((message, answer))
        return answer

    def ask(self, message: str) -> str:
        """Text mode: print the message and the model's reply (and return the reply)."""
        answer = self.respond(message)
        print(f"You:   {message}\nModel: {answer}")
        return answer

    def as_text(self) -> str:
        return (f"{self.title} (widget). Without widgets, use  chat.ask('your message')  in a code cell, and "
                f"chat.reset() to start a new conversation; replies are greedy, at most {self.max_new_tokens} tokens.")

    def show(self) -> None:
        """Display the chat widget where widgets work, the text instructions otherwise."""
        widget = self._widget() if widgets_wanted() else None
        if widget is None:
            print(self.as_text())
            return
        display_widget(widget, self.as_text())

    def _widget(self):
        try:
            import ipywidgets as w
        except ImportError:
            return None
        box = w.Textarea(placeholder="Ask about a person, the shop, or paste a contract to summarise",
                         layout=w.Layout(width="100%", height="80px"))
        send = w.Button(description="Send", button_style="primary")
        new = w.Button(description="New conversation")
        log = w.HTML(value="")

        def render():
            rows = [f"<p><b>You:</b> {html.escape(q)}<br><b>Model:</b> {html.escape(a)}</p>"
                    for q, a in self.transcript[-8:]]
            log.value = "".join(rows)

        def on_send(_):
            if not box.value.strip():
                return
            send.disabled = True
            try:
                self.respond(box.value)
                box.value = ""
            except ValueError as e:     # e.g. a message longer than the model's context
                log.value += f"<p style='color:#b42318'>{html.escape(str(e))}</p>"
                return
            finally:
                send.disabled = False
            render()

        def on_new(_):
            self.reset()
            render()

        send.on_click(on_send)
        new.on_click(on_new)
        return w.VBox([w.HTML(value=f"<b>{html.escape(self.title)}</b>"), box, w.HBox([send, new]), log])
