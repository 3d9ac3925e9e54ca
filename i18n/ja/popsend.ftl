# POP送信ヘルパー — 日本語 (基準言語)。ID を増やしたら i18n/en/popsend.ftl にも同じ ID を足すこと。

## アプリ

app-name = POP送信ヘルパー

## コマンドライン: ヘルプ

cli-about = POP before SMTP のサーバーで、受信(POP認証)してから送信する手順を自動で行います。
cli-config-help = 設定ファイル (既定: OS の設定フォルダーの popsend/config.toml)
cli-data-dir-help = 状態を保存するフォルダー (既定: OS のデータフォルダー)
cli-send-about = メッセージを作成し、POP認証してから送信します
cli-auth-about = POP認証だけを行い、送信できる時間 (中継ウィンドウ) を開きます
cli-status-about = 最後のPOP認証と、中継ウィンドウの残り時間を表示します
cli-to-help = 宛先 (複数指定可)
cli-cc-help = Cc (複数指定可)
cli-bcc-help = Bcc (複数指定可。ヘッダーには書かれません)
cli-subject-help = 件名
cli-body-file-help = 本文のファイル (UTF-8)。省略すると標準入力から読みます
cli-attach-help = 添付ファイル (複数指定可)
cli-gui-later = 画面 (ディスプレイ) がないため、コマンドとして使ってください。

## 結果

login-ok = POP認証に成功しました ({ $method }, { $server })。
window-open = 送信可能 残り { $remaining } ({ $until } まで)
window-expired = 中継ウィンドウは { $at } に閉じました。次の送信時に自動でPOP認証します。
window-never = まだPOP認証していません。次の送信時に自動でPOP認証します。
last-login = 最後のPOP認証: { $at } ({ $server }, { $peer })
sent-one = 送信しました: { $id } → { $rcpts }
failed-one = 送信できませんでした: { $id }
deferred-one = 未送信 (あとで送り直してください): { $id }
password-from = パスワードの取得元: { $source }
source-env = 環境変数 POPSEND_PASSWORD
source-command = password_command
source-keyring = OS のキーリング

## エラー: 見出し

err-prefix = エラー
err-config = 設定ファイルを使えません: { $detail }
err-config-hint = README の「設定」の節にあるキーを確認してください。
err-compose = メッセージを作れません: { $detail }
err-compose-hint = 宛先・件名・添付ファイルを確認してください。
err-body = 本文を読めません: { $detail }
err-password = パスワードを取得できません: { $detail }
err-password-hint = 環境変数 POPSEND_PASSWORD、設定の [pop] password_command、または OS のキーリングにパスワードを用意してください。
err-offline = サーバーに接続できません (オフラインかもしれません)。
err-offline-hint = ネットワークにつながっているか確認し、つながったらもう一度送信してください。
err-port25 = 送信サーバーのポート 25 に接続できません。プロバイダ (ISP) が外向きのポート 25 を遮断している可能性があります。
err-port25-hint = サーバーが 587 番 (STARTTLS) か 465 番 (SSL/TLS) の SMTP 認証に対応していれば、[smtp] port と username を設定してください。
err-wrong-password = POPサーバーがログインを拒否しました: ユーザー名かパスワードが違います。
err-wrong-password-hint = パスワードを確認してください。何度も失敗するとアカウントがロックされることがあるので、自動では再試行しません。
err-in-use = メールボックスが使用中です (他のメールソフトが受信中かもしれません)。
err-in-use-hint = 少し待ってからもう一度送信してください。
err-login-delay = サーバーが、次のPOPログインまで待つよう求めています。
err-login-delay-hint = しばらく待ってからもう一度送信してください。
err-pop-temporary = POPサーバーが一時的なエラーを返しました。
err-pop-temporary-hint = 少し待ってからもう一度送信してください。
err-pop-refused = POPサーバーがこのアカウントのログインを受け付けません。
err-pop-refused-hint = サーバーの応答を添えて、管理者 (ヘルプデスク) に問い合わせてください。
err-cleartext = 暗号化されていない接続でパスワードを送ることになるため、ログインを中止しました。
err-cleartext-hint = [pop] security を "tls" か "starttls" にしてください。サーバーが暗号化に対応していない場合に限り、allow_plaintext_password = true で平文のパスワードを許可できます。
err-apop = サーバーが APOP に対応していないか、APOP の値が不正です。
err-apop-hint = [pop] auth を "auto" にしてください。
err-stls = サーバーが STARTTLS (STLS) に対応していません。暗号化せずに続けることはしません。
err-stls-hint = [pop] または [smtp] の security を "tls" にするか、サーバーの案内を確認してください。
err-tls = サーバーの証明書を確認できません。安全でない接続には切り替えません。
err-tls-hint = ホスト名が正しいか確認してください。学内の独自の認証局を使うサーバーなら、[tls] ca_file にその証明書を指定してください。
err-timeout = サーバーから時間内に応答がありません。
err-timeout-hint = 回線が混んでいるか、サーバーが止まっている可能性があります。少し待ってからもう一度送信してください。
err-protocol = サーバーの応答を理解できません (POP3/SMTP ではない応答か、接続が途中で切れました)。
err-protocol-hint = ホスト名とポート番号が正しいか確認してください。
err-relay-denied = 中継拒否: POP認証をしても送信サーバーが中継を許可しません。
err-relay-denied-hint = IPアドレスが変わった、IPv4 と IPv6 で別の経路になっている、中継ウィンドウが設定より短い、またはサーバーが中継を止めている可能性があります。少し待ってからもう一度送信し、続く場合は管理者に問い合わせてください。
err-recipient = 宛先が受け付けられませんでした。
err-recipient-hint = 宛先のアドレスを確認してください。
err-message-refused = サーバーがこのメッセージを受け付けませんでした (大きすぎる、などの理由)。
err-message-refused-hint = サーバーの応答を確認し、添付ファイルを小さくするなどしてください。
err-smtp-temporary = 送信サーバーが一時的なエラーを返しました。
err-smtp-temporary-hint = 少し待ってからもう一度送信してください。
err-smtp-refused = 送信サーバーが接続を受け付けません。
err-smtp-refused-hint = [smtp] の host, port, security, username を確認してください。
err-smtp-auth = 送信サーバーが SMTP 認証に対応していません。
err-smtp-auth-hint = [smtp] username を消すか、サーバーの案内を確認してください。
err-too-large = メッセージが大きすぎます ({ $size } バイト。サーバーの上限は { $limit } バイト)。
err-too-large-hint = 添付ファイルを小さくするか、何通かに分けて送ってください。
err-unsendable = このサーバーにはこのメッセージを送れません: { $detail }
err-state = 状態ファイルを読めません: { $detail }

## エラー: 付記

server-reply = サーバーの応答: { $reply }
detail = 詳細: { $detail }
next-step = 次にすること: { $hint }

## 送信トレイ (outbox)

cli-later-help = 今は送らず、送信トレイに入れるだけにします
cli-queue-about = 送信トレイ (送信待ち・失敗) のメッセージを一覧表示します
cli-sent-about = 送信済みのメッセージを一覧表示します
cli-show-about = メッセージ 1 通のヘッダーと状態を表示します
cli-flush-about = 送信予定になったメッセージを今すぐ全部送ります
cli-retry-about = 失敗または待機中のメッセージを今すぐ送信待ちに戻します
cli-delete-about = メッセージを削除します
cli-watch-about = 常駐して、送信予定の時刻やネットワークの回復を待って自動で送ります (Ctrl-C で終了)
cli-id-help = メッセージの番号 (queue / sent の一覧の #)
queued-one = 送信トレイに入れました: #{ $id } { $msgid }
sent-id = 送信しました: #{ $id } { $msgid }
failed-id = 送信できませんでした: #{ $id } { $msgid }
left-queued = 送信待ち { $count } 通 (次の送信予定: { $at })
left-queued-paused = 送信待ち { $count } 通 — 送信を一時停止しています
paused = 送信を一時停止しています: { $reason }
paused-hint = 設定 (パスワードなど) を直すと再開します。今すぐ試すには popsend flush を実行してください。
nothing-due = 今送るメッセージはありません。
queue-empty = 送信トレイは空です。
sent-empty = 送信済みのメッセージはありません。
retry-ok = #{ $id } を送信待ちに戻しました。
delete-ok = #{ $id } を削除しました。
no-such-message = #{ $id } というメッセージはありません (送信中のものは削除できません)。
watch-start = 送信トレイを見張っています。Ctrl-C で終了します。
watch-woken = ネットワークが使えるようになったので、{ $count } 通を今すぐ送ります。
watch-stop = 終了しました。
err-outbox = 送信トレイを開けません: { $detail }
col-id = 番号
col-state = 状態
col-to = 宛先
col-subject = 件名
col-created = 作成
col-attempts = 試行
col-next = 次回
col-reason = 理由
col-sent = 送信日時
state-queued = 送信待ち
state-sending = 送信中
state-sent = 送信済み
state-failed = 失敗
kind-offline = オフライン: 接続できたら自動で送信します
kind-wrong-password = パスワードが違います
kind-mailbox-busy = メールボックスが使用中 (他のメールソフトが受信中?)
kind-login-delay = 次のログインまで待機中
kind-temporary = 一時的なエラー
kind-relay-denied = 中継拒否: POP認証が効いていません (IPアドレスの変更、IPv6 など)
kind-certificate = 証明書を確認できません
kind-setup = 設定を確認してください
kind-recipient = 宛先不明
kind-too-large = サイズ超過
kind-refused = サーバーが受け付けませんでした
kind-expired = 5 日以上送れなかったため中止しました
busy = 別の popsend が送信中です。このメッセージもそちらが送ります。

## 画面

gui-tab-compose = 作成
gui-tab-outbox = 送信トレイ ({ $count })
gui-tab-sent = 送信済み
gui-online = ● オンライン
gui-offline = ● オフライン
gui-online-unknown = ○ 接続未確認
gui-window-open = 送信可能 残り { $remaining }
gui-window-expired = 期限切れ — 次の送信時に自動で認証します
gui-window-none = 未認証
gui-logging-in = 認証中…
gui-sending = 送信中 ({ $count } 通)
gui-flush-now = 今すぐ送信
gui-login-now = POP認証
gui-to = 宛先
gui-cc = Cc
gui-bcc = Bcc
gui-subject = 件名
gui-body = 本文
gui-send = 送信
gui-send-later = 後で送信
gui-retry = 再送
gui-delete = 削除
gui-delete-confirm = 本当に削除する
gui-cancel = やめる
gui-worker-busy = 処理が混み合っています。少し待ってからもう一度押してください。
gui-cannot-open = 画面を開けません: { $detail }
