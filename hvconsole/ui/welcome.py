"""The first-run page: no hosts configured yet. Offers "Add host" and "Open demo site"."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from . import theme

ADD_HOST_HINT = ("You need the host's name or address and an account with administrator "
                 "rights on it; the password is kept in this computer's credential store.")


class WelcomePage(QWidget):
    """See the module docstring."""

    open_demo = Signal()
    add_host = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcomePage")
        card = QFrame(self)
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(560)

        logo = QLabel(card)
        logo.setPixmap(theme.icon("hvconsole").pixmap(QSize(64, 64)))
        logo.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        title = QLabel("Welcome to hvconsole", card)
        title.setObjectName("welcomeTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        text = QLabel("Watch every VM on your Hyper-V hosts live, spot a frozen VM the moment "
                      "it happens, and roll out an urgent update safely.\n\n"
                      "No hosts are configured yet.", card)
        text.setTextFormat(Qt.TextFormat.PlainText)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignHCenter)

        self.add_button = QPushButton(theme.icon("add-host"), "Add host…", card)
        self.add_button.setObjectName("addHostButton")
        self.add_button.setToolTip(ADD_HOST_HINT)
        self.add_button.clicked.connect(self.add_host)
        note = QLabel(ADD_HOST_HINT, card)
        note.setObjectName("welcomeNote")
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setWordWrap(True)
        note.setAlignment(Qt.AlignmentFlag.AlignHCenter)

        self.demo_button = QPushButton(theme.icon("demo"), "Open demo site", card)
        self.demo_button.setObjectName("demoButton")
        self.demo_button.setToolTip("A simulated site of four Hyper-V hosts on this computer, "
                                    "served over WS-Management like real hosts")
        self.demo_button.clicked.connect(self.open_demo)
        self.demo_button.setDefault(True)

        for button in (self.add_button, self.demo_button):
            button.setMinimumHeight(36)
            button.setIconSize(QSize(20, 20))

        layout = QVBoxLayout(card)
        layout.setSpacing(12)
        layout.addWidget(logo)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(8)
        layout.addWidget(self.demo_button)
        layout.addWidget(self.add_button)
        layout.addWidget(note)

        # Stretches rather than an alignment flag: an aligned widget gets its size hint,
        # and a word-wrapped label's hint is too short for its text (it would be clipped).
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 4)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def set_busy(self, message: str | None) -> None:
        """While the demo site starts: disable the button and say what is happening."""
        self.demo_button.setEnabled(message is None)
        self.demo_button.setText(message or "Open demo site")
