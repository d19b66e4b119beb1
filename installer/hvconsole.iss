; Inno Setup 6 script: the Windows setup program for hvconsole.
;
; Build it with `python installer\build.py`, which runs PyInstaller first and then
;   ISCC /DAppVersion=<version from pyproject.toml> /DBundleDir=<dist\hvconsole> /DIconFile=<.ico> /DOutputDir=<dist> hvconsole.iss
; Output: dist\hvconsole-<version>-setup.exe
;
; What it does: installs for the current user without admin rights (the admin may choose
; "all users" in the first dialog, which then asks for elevation), adds a Start menu
; shortcut and optionally a desktop shortcut, and registers an uninstaller that removes
; the program folder only. The user's hosts, settings, patch journal and logs live in the
; user's profile (AppData), and the passwords in Windows Credential Manager; neither setup
; nor the uninstaller touches them.

#ifndef AppVersion
  #error AppVersion is not defined. Build with "python installer\build.py", which passes /DAppVersion from pyproject.toml.
#endif
; Paths relative to this file unless build.py passes absolute ones.
#ifndef BundleDir
  #define BundleDir "..\dist\hvconsole"
#endif
#ifndef IconFile
  #define IconFile "..\build\icons\hvconsole.ico"
#endif
#ifndef OutputDir
  #define OutputDir "..\dist"
#endif

#define AppName "hvconsole"
#define AppExe "hvconsole.exe"

[Setup]
; The AppId identifies the product across versions (upgrades, the uninstall entry): never change it.
AppId={{1FCE92EB-7388-481C-9D31-017373C23CF0}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=hvconsole
AppComments=Console for one site's Windows Server Hyper-V hosts: live VM tiles, freeze detection, safe patch rollout
VersionInfoProductTextVersion={#AppVersion}
; Per user by default, no UAC prompt: {autopf} is then %LOCALAPPDATA%\Programs, which is not
; the data folder (%LOCALAPPDATA%\hvconsole). "dialog" offers an all-users install too.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
; PyInstaller builds a 64-bit bundle (the Python it runs on); Windows 10 is the oldest the Qt 6 libraries support.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Updating while the console runs: offer to close it (Restart Manager) rather than fail on locked files.
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Messages]
ConfirmUninstall=Remove %1 from this computer?%n%nOnly the program is removed. Your hosts, settings, patch journal and logs are kept (they are in your profile: AppData\Roaming\hvconsole and AppData\Local\hvconsole), and so are the host passwords in Windows Credential Manager. Delete those yourself if you no longer need them.
UninstalledAll=%1 was removed from this computer.%n%nYour hosts, settings, patch journal and logs were kept in AppData\Roaming\hvconsole and AppData\Local\hvconsole.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An update replaces the bundle's library folder whole, so that nothing an older version
; shipped lingers next to the new libraries. It holds only what PyInstaller put there.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Hyper-V site console"
Name: "{autoprograms}\{#AppName} (demo site)"; Filename: "{app}\{#AppExe}"; Parameters: "--demo"; Comment: "hvconsole on a simulated site: try it without a Hyper-V host"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon; Comment: "Hyper-V site console"

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

; There is deliberately no [UninstallDelete] section: the uninstaller removes what setup
; installed and nothing under the user's AppData.
