"""Talk to a model: a small chat widget, and `Chat.ask()` as its text twin.

The course's models are fine-tuned on single turns (one prompt, one response), so every message is
answered on its own, wrapped in the same instruction template as the training data: the chat shows
what SFT taught, not a memory the model does not have. Decoding is greedy, as in the evaluations.
Like the quizzes, the widget carries a text/plain rendering for front-ends without widgets.
"""
from __future__ import annotations

import html

from .evaluate import reply
from .quiz import display_widget, widgets_wanted


class Chat:
    def __init__(self, model, tokenizer, max_new_tokens: int = 64, title: str = "Chat with the model"):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens = max_new_tokens
        self.title = title
        self.transcript: list[tuple[str, str]] = []

    def respond(self, message: str) -> str:
        message = str(message).strip()
        if not message:
            raise ValueError("the message is empty; type a question or a request")
        answer = reply(self.model, self.tokenizer, [message], max_new_tokens=self.max_new_tokens)[0].strip()
        self.transcript.append((message, answer))
        return answer

    def ask(self, message: str) -> str:
        """Text mode: print the message and the model's reply (and return the reply)."""
        answer = self.respond(message)
        print(f"You:   {message}\nModel: {answer}")
        return answer

    def as_text(self) -> str:
        return (f"{self.title} (widget). Without widgets, use  chat.ask('your message')  in a code cell; "
                f"each message is answered on its own, greedy, at most {self.max_new_tokens} tokens.")

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

        send.on_click(on_send)
        return w.VBox([w.HTML(value=f"<b>{html.escape(self.title)}</b>"), box, send, log])
