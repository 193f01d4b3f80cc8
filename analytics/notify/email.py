"""Alert e-mails over SMTP (smtplib): plain text with an HTML alternative, one connection per message."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from analytics.notify.errors import DeliveryError
from analytics.notify.messages import EmailContent
from coopwatt.settings import Settings


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def email_channel_enabled(settings: Settings) -> bool:
    """True when an SMTP server is configured (COOPWATT_SMTP_HOST)."""
    return bool(settings.smtp_host)


def compose_email(settings: Settings, to_address: str, content: EmailContent, *, message_id: str) -> EmailMessage:
    """The MIME message: From/To/Subject/Date/Message-ID, text part and HTML alternative."""
    message = EmailMessage()
    message["From"] = settings.smtp_from or ""
    message["To"] = to_address
    message["Subject"] = content.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # A stable Message-ID per (alert, event, recipient): if a crash makes us send twice,
    # mail clients can still show it once.
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies back to us
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message


def send_email(settings: Settings, to_address: str, content: EmailContent, *, message_id: str) -> None:
    """Send one alert e-mail; raise DeliveryError (permanent for a 5xx refusal) if it was not accepted."""
    if not settings.smtp_host:
        raise DeliveryError("e-mail channel off: COOPWATT_SMTP_HOST is not set", permanent=True)
    message = compose_email(settings, to_address, content, message_id=message_id)
    timeout_s = settings.alert_send_timeout_s
    try:
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout_s,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout_s)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(f"SMTP refused the recipient: {exc.recipients}",
                            permanent=all(code >= 500 for code in codes)) from exc
    except smtplib.SMTPDataError as exc:
        # The server read the message and refused it for good (5xx): sending it again changes nothing.
        raise DeliveryError(f"SMTP refused the message: {exc.smtp_code} {_text(exc.smtp_error)}",
                            permanent=exc.smtp_code >= 500) from exc
    except smtplib.SMTPResponseException as exc:
        # Login or sender refusals are configuration mistakes an operator can fix: keep retrying
        # (with back-off, up to the attempt limit) so the alert still goes out once it is fixed.
        raise DeliveryError(f"SMTP error {exc.smtp_code}: {_text(exc.smtp_error)}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        # Connection refused, timeouts, TLS failures, dropped connections: worth retrying.
        raise DeliveryError(f"SMTP delivery failed: {exc.__class__.__name__}: {exc}") from exc
