# PopSend — English. Twin of i18n/ja/popsend.ftl (the reference): same IDs, same arguments.

## App

app-name = PopSend

## Command line: help

cli-about = Does the "receive (POP login) first, then send" ritual for POP-before-SMTP servers.
cli-config-help = Configuration file (default: popsend/config.toml in the OS config folder)
cli-data-dir-help = Folder for saved state (default: the OS data folder)
cli-send-about = Build a message, log in over POP, then send it
cli-auth-about = Log in over POP only, opening the relay window
cli-status-about = Show the last POP login and the time left in the relay window
cli-to-help = Recipient (repeatable)
cli-cc-help = Cc (repeatable)
cli-bcc-help = Bcc (repeatable; never written into the headers)
cli-subject-help = Subject
cli-body-file-help = File with the body text (UTF-8); standard input when omitted
cli-attach-help = File to attach (repeatable)
cli-gui-later = No display to open the window on: use one of these commands.

## Results

login-ok = POP login succeeded ({ $method }, { $server }).
window-open = Sending possible, { $remaining } left (until { $until })
window-expired = The relay window closed at { $at }. The next send logs in again by itself.
window-never = No POP login yet. The next send logs in by itself.
last-login = Last POP login: { $at } ({ $server }, { $peer })
sent-one = Sent: { $id } → { $rcpts }
failed-one = Not sent: { $id }
deferred-one = Not sent yet (send it again later): { $id }
password-from = Password taken from: { $source }
source-env = the POPSEND_PASSWORD environment variable
source-command = password_command
source-keyring = the OS keyring

## Errors: headlines

err-prefix = Error
err-config = Cannot use the configuration file: { $detail }
err-config-hint = Check the keys listed under "Configuration" in the README.
err-compose = Cannot build the message: { $detail }
err-compose-hint = Check the recipients, the subject and the attachments.
err-body = Cannot read the body: { $detail }
err-password = Cannot get the password: { $detail }
err-password-hint = Provide the password in POPSEND_PASSWORD, through [pop] password_command, or in the OS keyring.
err-offline = Cannot reach the server (you may be offline).
err-offline-hint = Check the network connection and send again once it is back.
err-port25 = Cannot reach port 25 of the sending server. Your provider (ISP) may block outgoing port 25.
err-port25-hint = If the server offers SMTP AUTH on port 587 (STARTTLS) or 465 (SSL/TLS), set [smtp] port and username.
err-wrong-password = The POP server refused the login: the user name or password is wrong.
err-wrong-password-hint = Check the password. Repeated failures can lock the account, so popsend does not retry by itself.
err-in-use = The mailbox is in use (another mail program may be receiving).
err-in-use-hint = Wait a little and send again.
err-login-delay = The server asks to wait before the next POP login.
err-login-delay-hint = Wait a while and send again.
err-pop-temporary = The POP server reported a temporary error.
err-pop-temporary-hint = Wait a little and send again.
err-pop-refused = The POP server does not accept logins for this account.
err-pop-refused-hint = Contact the administrator (help desk) with the server's reply.
err-cleartext = Stopped: the login would send the password over an unencrypted connection.
err-cleartext-hint = Set [pop] security to "tls" or "starttls". Only if the server cannot encrypt, allow_plaintext_password = true permits a cleartext password.
err-apop = The server does not offer APOP, or its APOP value is invalid.
err-apop-hint = Set [pop] auth to "auto".
err-stls = The server does not offer STARTTLS (STLS). popsend does not go on unencrypted.
err-stls-hint = Set security to "tls" under [pop] or [smtp], or check the server's instructions.
err-tls = The server's certificate cannot be verified. popsend does not switch to an insecure connection.
err-tls-hint = Check the host name. If the server uses your institution's own certificate authority, set [tls] ca_file to its certificate.
err-timeout = The server did not answer in time.
err-timeout-hint = The line may be congested or the server down. Wait a little and send again.
err-protocol = The server's answer is not understood (not POP3/SMTP, or the connection broke).
err-protocol-hint = Check the host name and the port.
err-relay-denied = Relay refused: the sending server does not relay even after the POP login.
err-relay-denied-hint = Your IP address may have changed, IPv4 and IPv6 may take different routes, the relay window may be shorter than configured, or the server may have stopped relaying. Wait a little and send again; if it persists, contact the administrator.
err-recipient = A recipient was refused.
err-recipient-hint = Check the recipient's address.
err-message-refused = The server refused this message (too large, or similar).
err-message-refused-hint = Read the server's reply; make attachments smaller, for instance.
err-smtp-temporary = The sending server reported a temporary error.
err-smtp-temporary-hint = Wait a little and send again.
err-smtp-refused = The sending server does not accept the connection.
err-smtp-refused-hint = Check [smtp] host, port, security and username.
err-smtp-auth = The sending server does not offer SMTP AUTH.
err-smtp-auth-hint = Remove [smtp] username, or check the server's instructions.
err-too-large = The message is too large ({ $size } bytes; the server accepts at most { $limit }).
err-too-large-hint = Make the attachments smaller, or split them over several messages.
err-unsendable = This message cannot be sent to this server: { $detail }
err-state = Cannot read the state file: { $detail }

## Errors: details

server-reply = Server reply: { $reply }
detail = Detail: { $detail }
next-step = Next: { $hint }

## Outbox

cli-later-help = Do not send now; only put the message in the outbox
cli-queue-about = List the outbox (waiting and failed messages)
cli-sent-about = List the sent messages
cli-show-about = Show one message's headers and state
cli-flush-about = Send every message that is due, now
cli-retry-about = Make a failed or waiting message due now
cli-delete-about = Delete a message
cli-watch-about = Stay running and send by itself when messages are due or the network is back (Ctrl-C ends)
cli-id-help = The message's number (the # in queue / sent)
queued-one = Put in the outbox: #{ $id } { $msgid }
sent-id = Sent: #{ $id } { $msgid }
failed-id = Not sent: #{ $id } { $msgid }
left-queued = { $count } waiting (next attempt: { $at })
left-queued-paused = { $count } waiting — sending is paused
paused = Sending is paused: { $reason }
paused-hint = It resumes when the settings (the password, for instance) change. To try now, run popsend flush.
nothing-due = Nothing to send now.
queue-empty = The outbox is empty.
sent-empty = No sent messages.
retry-ok = #{ $id } is waiting to be sent again.
delete-ok = Deleted #{ $id }.
no-such-message = There is no message #{ $id } (a message being sent cannot be deleted).
watch-start = Watching the outbox. Ctrl-C ends.
watch-woken = The network is back: sending { $count } now.
watch-stop = Stopped.
err-outbox = Cannot open the outbox: { $detail }
col-id = No.
col-state = State
col-to = To
col-subject = Subject
col-created = Created
col-attempts = Tries
col-next = Next
col-reason = Reason
col-sent = Sent at
state-queued = waiting
state-sending = sending
state-sent = sent
state-failed = failed
kind-offline = Offline: sends by itself once connected
kind-wrong-password = Wrong password
kind-mailbox-busy = Mailbox in use (another mail program receiving?)
kind-login-delay = Waiting for the next allowed login
kind-temporary = Temporary error
kind-relay-denied = Relay refused: the POP login is not taking effect (IP change, IPv6, …)
kind-certificate = The certificate cannot be verified
kind-setup = Check the settings
kind-recipient = Unknown recipient
kind-too-large = Too large
kind-refused = Refused by the server
kind-expired = Given up after more than 5 days
busy = Another popsend is sending; it will send this message too.

## Window

gui-tab-compose = Compose
gui-tab-outbox = Outbox ({ $count })
gui-tab-sent = Sent
gui-online = ● Online
gui-offline = ● Offline
gui-online-unknown = ○ Not checked yet
gui-window-open = Sending possible, { $remaining } left
gui-window-expired = Expired — the next send logs in by itself
gui-window-none = Not logged in
gui-logging-in = Logging in…
gui-sending = Sending ({ $count })
gui-flush-now = Send now
gui-login-now = POP login
gui-to = To
gui-cc = Cc
gui-bcc = Bcc
gui-subject = Subject
gui-body = Message
gui-send = Send
gui-send-later = Send later
gui-retry = Retry
gui-delete = Delete
gui-delete-confirm = Really delete
gui-cancel = Cancel
gui-worker-busy = Busy; wait a moment and press it again.
gui-cannot-open = Cannot open the window: { $detail }
