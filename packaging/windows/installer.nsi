; popsend's Windows installer (NSIS 3, Unicode). Per user: no administrator rights, installed under
; %LOCALAPPDATA%\Programs\PopSend, a Start menu shortcut, an uninstaller in 「アプリと機能」, and
; popsend registered as a mail program for mailto: links (HKCU RegisteredApplications and
; Clients\Mail, so it appears in Windows' default-apps list; Windows lets only the user choose
; the default). "Start at login" stays off: it is a choice in 設定, not the installer's.
;
; makensis -DVERSION=0.1.0 -DEXE=path\to\popsend.exe -DOUTFILE=popsend-setup.exe installer.nsi
; (packaging/windows/make-installer.sh does this.)

Unicode true
Target amd64-unicode
!include "MUI2.nsh"

!ifndef VERSION
  !error "VERSION is not defined (makensis -DVERSION=...)"
!endif
!ifndef EXE
  !error "EXE is not defined (makensis -DEXE=path\to\popsend.exe)"
!endif
!ifndef OUTFILE
  !define OUTFILE "popsend-${VERSION}-setup.exe"
!endif
!ifndef ICON
  !define ICON "..\icons\popsend.ico"
!endif

!define APP_ID "io.github.popsend.popsend"
!define PROGID "${APP_ID}.mailto"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\PopSend"
!define CLIENT_KEY "Software\Clients\Mail\PopSend"

Name "PopSend"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\PopSend"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel user
SetCompressor /SOLID lzma
ManifestDPIAware true
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "PopSend"
VIAddVersionKey /LANG=0 "FileDescription" "PopSend installer"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "popsend developers"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\popsend.exe"
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
; Japanese first: the installer speaks Japanese on a Japanese Windows, English elsewhere.
!insertmacro MUI_LANGUAGE "Japanese"
!insertmacro MUI_LANGUAGE "English"

LangString ShortcutName ${LANG_JAPANESE} "POP送信ヘルパー"
LangString ShortcutName ${LANG_ENGLISH} "PopSend"
LangString Description ${LANG_JAPANESE} "POP before SMTP のメールサーバーから、受信を気にせずメールを送ります"
LangString Description ${LANG_ENGLISH} "Sends mail through servers that relay only after a POP login (POP before SMTP)"

Function .onInit
  !insertmacro MUI_LANGDLL_DISPLAY
FunctionEnd

Section "PopSend" Main
  SetShellVarContext current
  SetOutPath "$INSTDIR"
  File "/oname=popsend.exe" "${EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\$(ShortcutName).lnk" "$INSTDIR\popsend.exe" "" "$INSTDIR\popsend.exe" 0

  ; mailto: links: a ProgID that opens popsend with the URL, and the capabilities that make
  ; popsend one of the mail programs Windows offers.
  WriteRegStr HKCU "Software\Classes\${PROGID}" "" "URL:MailTo Protocol"
  WriteRegStr HKCU "Software\Classes\${PROGID}" "URL Protocol" ""
  WriteRegStr HKCU "Software\Classes\${PROGID}\DefaultIcon" "" '"$INSTDIR\popsend.exe",0'
  WriteRegStr HKCU "Software\Classes\${PROGID}\shell\open\command" "" '"$INSTDIR\popsend.exe" "%1"'
  WriteRegStr HKCU "${CLIENT_KEY}" "" "PopSend"
  WriteRegStr HKCU "${CLIENT_KEY}\shell\open\command" "" '"$INSTDIR\popsend.exe"'
  WriteRegStr HKCU "${CLIENT_KEY}\Capabilities" "ApplicationName" "PopSend"
  WriteRegStr HKCU "${CLIENT_KEY}\Capabilities" "ApplicationDescription" "$(Description)"
  WriteRegStr HKCU "${CLIENT_KEY}\Capabilities" "ApplicationIcon" '"$INSTDIR\popsend.exe",0'
  WriteRegStr HKCU "${CLIENT_KEY}\Capabilities\URLAssociations" "mailto" "${PROGID}"
  WriteRegStr HKCU "Software\RegisteredApplications" "PopSend" "${CLIENT_KEY}\Capabilities"

  ; 「アプリと機能」 (Programs and Features).
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "$(ShortcutName)"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "popsend developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" '"$INSTDIR\popsend.exe",0'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext current
  Delete "$SMPROGRAMS\$(ShortcutName).lnk"
  Delete "$INSTDIR\popsend.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "Software\Classes\${PROGID}"
  DeleteRegKey HKCU "${CLIENT_KEY}"
  DeleteRegValue HKCU "Software\RegisteredApplications" "PopSend"
  ; 「ログイン時に起動する」, if it was turned on in 設定.
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "popsend"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ; The config, the outbox and the drafts stay: they are the user's mail, not the program.
SectionEnd
