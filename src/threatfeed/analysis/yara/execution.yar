// Running code fetched from the network, decoded from a blob, or a shell on a socket.
// Metadata ties each rule to an indicator of the engine (see docs/rules.md).
//
// Speed: yara-x searches each pattern by an "atom" (up to four literal bytes) and verifies
// the whole pattern where the atom occurs; it picks the atom by byte quality, not by how
// often it occurs in code. A group written `(...|\B\b)` matches exactly what `(...)`
// does (\B and \b at one place never both hold, so the added branch never matches), but
// its empty branch leaves yara-x no atom inside the group, so it takes the atom from
// elsewhere in the pattern: we use it where the group's atoms are words every program
// has (decode, loads, from) and the rest of the pattern holds a rare one (exec, eval).
// Inside an alternation yara-x takes each branch's first four bytes, so a branch whose
// start is a common word (`requests.get` gives `requ`) is made a top-level alternative of
// its own with that word's head in such a group: `(reques|\B\b)ts\.get` takes `ts.g`.
// (So `(wri|\B\b)teFile` takes `teFi`, `(Star|\B\b)t-Process` takes `t-Pr`, and
// `(os|\B\b)\.popen` takes `.pop`, not the `os.p` of every os.path.)
//
// Calls are matched with the blanks Python and JavaScript allow (`exec ( r.read ( ) )`, as
// formatters and signature-dodging rewrites lay them out): `\s*` before a call's `(`, inside
// `\(\s*\)` and around arguments. Where the `(` ends an atom, `x(\(|\s\s*\()` is `x\s*\(`
// spelled so that the atom keeps it (`ypt(`, `ypt `), as `est(` does below.

rule download_pipe_to_shell {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 9
        label = "downloads a script and pipes it into a shell"
    strings:
        $a = /\b(curl|wget)\s[^\n|;]{0,200}\|\s*(sudo\s+)?(ba|z|da)?sh\b/
        $b = /\b(curl|wget)\s[^\n;]{0,200}(-o|-O|--output)\s*[^\n;]{1,120};\s*(chmod\s+\+?[0-7x]+\s[^\n;]{1,80};\s*)?(\.\/|sh\s|bash\s)/
        $b2 = /\b(curl|wget)\s[^\n;&]{0,200}(-o|-O|--output)\s*([^\n;&]|2>&1){1,120}&&\s*(chmod\s+\+?[0-7x]+\s([^\n;&]|2>&1){1,80}&&\s*)?(\.\/|sh\s|bash\s)/
        $c = /\b(mshta|rundll32)(\.exe)?\s+["']?https?:\/\//
        $d = /certutil(\.exe)?\s[^\n]{0,40}-urlcache/ nocase
        $e = /bitsadmin(\.exe)?\s[^\n]{0,40}\/transfer/ nocase
    condition:
        any of them
}

rule python_exec_of_download {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 14
        label = "executes code downloaded at run time"
    strings:
        $a = /\b(exec|eval)\s*\(\s*(requests\.get|requests\.post|urlopen|urllib\.request\.urlopen|urllib2\.urlopen|httpx\.get|[a-zA-Z_]{1,20}\.urlopen|__import__\s*\(\s*['"](requests|urllib\.request|urllib2|httpx)['"]\s*\)\s*\.\s*(get|post|urlopen))\s*\(/
        // `exec(r.text)`: a response body, or the text of a parsed document (the scripts an
        // XML file embeds); `exec(f.read())` reads a file, which setup.py does with its own
        // version file: both count only next to a download in the same file.
        // `context.eval(...)` (a method of a JavaScript engine binding) is not Python's eval.
        // A trailing namespace (`exec(r.read(), module.__dict__)`) runs the code all the same.
        $b = /(^|[^.\w])(exec|eval)\s*\(\s*[a-zA-Z_.]{1,40}\.(text|content)\s*[,)]/
        $read = /(^|[^.\w])(exec|eval)\s*\(\s*[a-zA-Z_.]{1,40}\.read\s*\(\s*\)\s*[,)]/
        $net = /\b(urlopen|urlretrieve|urllib2)\b|\b(reques|\B\b)ts\.(get|post|request|Session)\b|\b(ht|\B\b)tpx\.(get|post|Client|AsyncClient)\b|\baiohttp\.ClientSession\b/
    condition:
        $a or (($b and #b < 5) or ($read and #read < 5)) and $net
}

rule js_eval_of_download {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "evaluates a network response as code"
    strings:
        // `https?` spelled out after `(ht|\B\b)` (see the head of this file), whose optional
        // `s` left yara-x the atom `tp` of every http: the atoms are `tp.g`, `tps.`...; and
        // `request` takes `est(`, not the `requ` of every requests and request body
        $get = /\b((ht|\B\b)(tp\.get|tp\.request|tps\.get|tps\.request)|fetch|axios(\.get)?)\s*\(|\b(requ|\B\b)est(\(|\s\s*\()/
        $eval = /\b(eval|new\s+Function|Function)\s*\(\s*(body|data|res\.data|response\.data|chunks?\.join|Buffer\.concat|responseText|\w{1,10}\.toString\s*\(\s*\))/
        // Node's `vm` running what was received, whatever the variable is called (module
        // loaders run their files with `vm` too, but read them from disk)
        $vm = /\b(runInNewContext|runInThisContext|runInContext)\s*\(\s*(body|data|code|script|src|source|payload|chunks?\.join|Buffer\.concat|responseText|\w{1,10}\.toString\s*\(\s*\))\s*[,)]/
    condition:
        $get and ($eval or $vm)
}

rule drop_and_run_executable {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "writes a downloaded executable to disk and starts it"
    strings:
        // (`(open|\B\b)`: the atom is the extension, not every `open`; see the file's head)
        $drop = /(open|\B\b)\s*\(\s*[^\n)]{0,80}\.(exe|scr|bat|vbs|ps1|cmd|msi)["']\s*(\)\s*)?,\s*["']wb/ nocase
        $net = /\b(requests\.get|urlopen|urlretrieve|httpx\.get|\.content\b|\.read\s*\(\s*\))/
        $run = /\b(os\.startfile|subprocess\.(Popen|call|run|check_call)|os\.system|ShellExecute)|\b(Star|\B\b)t-Process/
    condition:
        $drop and $net and $run
}

rule download_then_run_executable {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "downloads an executable and starts it"
    strings:
        // `h\Bt\Bt\Bp...` is `https?://` (\B holds between two letters, \b between a
        // letter and `:`, \B between `:` and `/`) written so that yara-x takes the
        // extension as the atom, not the `://` of every URL: same matches, while the plain
        // form made these two patterns a third of all signature verification work.
        $url_exe = /(h\Bt\Bt\Bp|h\Bt\Bt\Bp\Bs)\b:\B\/\B\/[^\s"'`]{1,200}\.(exe|scr|msi|bat|vbs|ps1|dll)\b/ nocase
        $save_py = /\b(urlretrieve|\.write\s*\(\s*\w{1,20}\.content\s*\)|DownloadFile)/
        $save_wb = /\bopen\s*\([^\n]{1,80},\s*["']wb["']\s*\)/
        $save_js = /\b(crea|\B\b)teWriteStream\s*\(|\b(wri|\B\b)teFile(Sync)?\s*\(/
        $save_sh = /\b(curl(\s[^\n]{0,80})?\s-o\s|wget(\s[^\n]{0,80})?\s-O\s|Invoke-WebRequest\s[^\n]{0,120}-OutFile)/
        $run1 = /\b(os\.startfile|subprocess\.(Popen|call|run|check_call)|os\.system|ShellExecute)|\b(Star|\B\b)t-Process/
        $run2 = /\b(execFile|execSync|spawn|spawnSync|exec)\s*\(/
        $run3 = /["'`](start|cmd \/c start)\s/
        // the command line a process is started with names a remote executable itself
        $cmd_url_exe = /\b(execFile|execSync|spawn|spawnSync|exec|system|Popen|call|run)\s*\(\s*\[?\s*["'`][^"'`\n]{0,200}(h\Bt\Bt\Bp|h\Bt\Bt\Bp\Bs)\b:\B\/\B\/[^\s"'`]{1,200}\.(exe|scr|msi|bat|vbs|ps1|dll)\b/ nocase
    condition:
        ($url_exe and ($save_py or $save_wb or $save_js or $save_sh) and ($run1 or $run2 or $run3))
        or $cmd_url_exe
}

rule python_decode_then_exec {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "executes code decoded from an embedded blob"
    strings:
        // `(...|\B\b)`: see the head of this file. The atoms are the decoders' rarer
        // parts (`b64d`, `ebyt`, `ompr`, `mhex`, `ypt(`...), not exec and eval, whose
        // every call cost a 120-byte verification.
        $a = /(\b(exec|eval)\s*\([^\n]{0,120}|\B\b)(b64decode|b32decode|b16decode|b85decode|a85decode|(decod|\B\b)ebytes|(dec|\B\b)ompress|marshal\.loads|(fro|\B\b)mhex|unhexlify|(\.decr|\B\b)ypt(\(|\s\s*\()|(codec|\B\b)s\.decode|rot13)/
        // a reversed string run: `exec(code[::-1])`, with no call in between whose result
        // is what gets reversed (`eval(cell)[::-1]` reverses what was evaluated)
        $rev = /\b(exec|eval)\s*\([^()\n]{0,120}\[::-1\]/
        $b = /\b(exec|eval)\s*\(\s*(''|"")\.join\s*\(\s*(chr|map\s*\(\s*chr)/
        // exec of characters mapped one by one from a literal (substitution ciphers)
        $b2 = /\b(exec|eval)\s*\(\s*(''|"")\.join\s*\(\s*\[?[^\n]{0,120}\bfor\s+\w{1,20}\s+in\s+["']/
        // (`(...|\B\b)` for the atoms `mpil` and the quoted `'exe`, `"eva`: not every exec,
        // getattr and __import__)
        $c = /(\bexec\s*\(\s*co|\B\b)mpile\s*\([^\n]{0,60}(decode|decompress|loads)/
        $d = /(\b(getattr|__import__)\s*\([^\n]{0,40}|\B\b)['"](exec|eval)['"]\s*\)\s*\(/
        $e = /\bexec\s*\(\s*marshal\.loads/
        $f = /\b(exec|eval)\s*\(\s*[\w.]{1,40}\s*\(\s*b?["'][A-Za-z0-9+\/=_-]{100}/
    condition:
        any of them
}

rule python_unpickle_embedded_blob {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "unpickles a compressed or encoded blob embedded in the code"
    strings:
        // `pickle.loads(zlib.decompress(b'x\xda...'))`: unpickling calls whatever the blob
        // names (`__reduce__`), so this is exec of hidden code; data a library ships is
        // read from its files, not unpickled from an encoded literal. Also matches when
        // the line is itself inside a string the code writes out (a dropped loader).
        $a = /pickle\.loads\s*\(\s*(zlib\.decompress|bz2\.decompress|lzma\.decompress|base64\.b64decode|b64decode|codecs\.decode)\s*\(\s*b?\\?["']/
    condition:
        $a
}

rule js_decode_then_eval {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "evaluates code decoded from an embedded blob"
    strings:
        $a = /\b(eval|Function)\s*\(\s*(atob|unescape|decodeURIComponent|String\.fromCharCode|Buffer\.from)\s*\(/
        $b = /\beval\s*\(\s*(new\s+)?Buffer(\.from)?\s*\([^\n)]{1,4000}['"](base64|hex)['"]\s*\)\s*\.toString\s*\(/
        $c = /\bnew\s+Function\s*\(\s*(atob|Buffer\.from|unescape|decodeURIComponent)\s*\(/
        $d = /\beval\s*\(\s*require\s*\(\s*['"]zlib['"]\s*\)/
        $e = /\bvm\.runInThisContext\s*\(\s*(atob|Buffer\.from)/
    condition:
        any of them
}

rule reverse_shell_unix {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 17
        label = "reverse shell"
    strings:
        $a = "/dev/tcp/"
        $b = /\b(ba)?sh\s+-i\s*(>&|2>&1|[<>]\s*&)/
        $c = /\b(nc|ncat|netcat)(\.exe)?\s+[^\n]{0,60}\s-[ec]\s+(\/bin\/|cmd|powershell)/
        $d = /mkfifo\s+\/tmp\/[^\n]{0,80}\b(nc|ncat|sh)\b/
    condition:
        any of them
}

rule reverse_shell_python {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 17
        label = "socket wired to a shell"
    strings:
        $sock = /socket\.socket\s*\(/
        $conn = /\.connect\s*\(\s*\(/
        $dup = /os\.dup2\s*\(\s*\w{1,20}\.fileno\s*\(\s*\)/
        $pty = /pty\.spawn\s*\(\s*["'](\/bin\/(ba)?sh|bash|sh)["']/
        $sh = /subprocess\.(call|Popen|run)\s*\(\s*\[\s*["'](\/bin\/(ba)?sh|cmd(\.exe)?|powershell)["']\s*(,\s*["']-i["'])?\s*\]/
    condition:
        $sock and $conn and ($dup or $pty) or ($sock and $conn and $sh and $dup)
}

rule reverse_shell_node {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 17
        label = "socket piped into a shell"
    strings:
        $net = /\b(net\.connect|net\.createConnection|new\s+net\.Socket)\s*\(/
        $spawn = /\bspawn\s*\(\s*[^)\n]{0,40}(\/bin\/(ba)?sh|cmd(\.exe)?|powershell|["']sh["'])/
        $shvar = /["'](\/bin\/(ba)?sh|cmd\.exe)["']/
        $pipe1 = /\.pipe\s*\(\s*\w{1,20}\.stdin\s*\)/
        $pipe2 = /\.stdout\.pipe\s*\(/
    condition:
        $net and ($spawn or $shvar) and ($pipe1 or $pipe2)
}

rule powershell_encoded_command {
    meta:
        indicator = "powershell_dropper_rule"
        capability = "dropper"
        weight = 10
        label = "PowerShell with an encoded command"
    strings:
        $a = /powershell(\.exe)?[^\n]{0,120}\s-(e|ec|en|enc|enco|encodedcommand)\s+["']?[A-Za-z0-9+\/]{40,}/ nocase
        $list_flag = /["']-(e|ec|enc|encodedcommand)["']\s*,\s*\w/ nocase
        $list_ps = /["']powershell(\.exe)?["']/ nocase
    condition:
        $a or ($list_flag and $list_ps)
}

rule powershell_download {
    meta:
        indicator = "powershell_dropper_rule"
        capability = "download_exec"
        weight = 9
        label = "PowerShell downloads and runs a payload"
    strings:
        $dl1 = /\b(Invoke-WebRequest|iwr|Invoke-RestMethod|irm|wget|curl)\s[^\n]{0,200}(-OutFile|\|\s*(iex|Invoke-Expression))/ nocase
        // a method of a web client (`$wc.DownloadString(`), not a name ending in it
        // (`openOrDownloadData(` in pdf.js)
        $dl2 = /\.(DownloadString|DownloadFile|DownloadData)\s*\(/ nocase
        $dl3 = /New-Object\s+(System\.)?Net\.WebClient/ nocase
        $run1 = /\b(Start-Process|Invoke-Expression|IEX)\b/ nocase
        $run2 = /-(WindowStyle|w)\s+hidden/ nocase
        $ps = /powershell/ nocase
    condition:
        ($dl1 or $dl2 or $dl3) and ($run1 or $run2) and ($ps or $dl3)
}

rule powershell_decode_and_invoke {
    meta:
        indicator = "powershell_dropper_rule"
        capability = "decode_exec"
        weight = 10
        label = "PowerShell decodes base64 and invokes the result"
    strings:
        $b64 = /FromBase64String\s*\(/ nocase
        $iex = /\b(Invoke-Expression|IEX)\b/ nocase
    condition:
        $b64 and $iex
}

rule powershell_hidden_policy_bypass {
    meta:
        indicator = "powershell_dropper_rule"
        capability = "dropper"
        weight = 6
        label = "starts PowerShell hidden with the execution policy bypassed"
    strings:
        $inline = /powershell(\.exe)?[^\n]{0,160}-ExecutionPolicy\s+Bypass[^\n]{0,160}-W(indowStyle)?\s+Hidden/ nocase
        $list_bypass = /["']-ExecutionPolicy["']\s*,\s*["']Bypass["']/ nocase
        $list_hidden = /["']-WindowStyle["']\s*,\s*["']Hidden["']/ nocase
    condition:
        $inline or ($list_bypass and $list_hidden)
}

rule defender_tampering {
    meta:
        indicator = "powershell_dropper_rule"
        capability = "dropper"
        weight = 8
        label = "disables or excludes Windows Defender"
    strings:
        $a = /Add-MpPreference\s+-Exclusion(Path|Process|Extension)/ nocase
        $b = /Set-MpPreference\s+-Disable(RealtimeMonitoring|IOAVProtection|BehaviorMonitoring)/ nocase
    condition:
        any of them
}

rule persistence {
    meta:
        indicator = "persistence_rule"
        capability = "persistence"
        weight = 4
        label = "installs itself to run at logon"
    strings:
        $a = /Software\\{1,2}Microsoft\\{1,2}Windows\\{1,2}CurrentVersion\\{1,2}Run\b/ nocase
        $b = /Start Menu\\{1,2}Programs\\{1,2}Startup/ nocase
        $b_join = /["']Start Menu["']\s*,\s*["']Programs["']\s*,\s*["']Startup["']/ nocase
        $c = /schtasks(\.exe)?\s+\/create/ nocase
        $d = /Library\/LaunchAgents\/[^\n]{0,60}\.plist/
        $e = /\(crontab\s+-l[^\n]{0,80}\|\s*crontab\s+-/
        // the interpreter's own start: IPython runs every file of its startup folder
        $f = /profile_default[\\\/]{1,2}startup|["']profile_default["']\s*,\s*["']startup["']/
        // a systemd unit of the user's (started at every login, restarted when killed),
        // and the dynamic loader's preload list (a library loaded into every process)
        $g = /\.config\/systemd\/user\b|systemctl\s+--user\s+enable\b|["']systemd["']\s*[,\/]\s*["']user["']|["']systemctl["']\s*,\s*["']--user["']/
        $h = /\/etc\/+ld\.so\.preload\b/
    condition:
        any of them
}

rule download_saved_to_autostart {
    meta:
        indicator = "persistence_rule"
        capability = "download_exec"
        weight = 12
        label = "saves a download where it runs at every logon (Startup folder, Run key)"
    strings:
        // The autostart places of the rule above, a download, and its bytes written out:
        // the fetched file is started by Windows at the next logon, no call needed. Apps
        // that register themselves to start point the entry at their own executable.
        $startup = /Start Menu\\{1,2}Programs\\{1,2}Startup|["']Start Menu["']\s*,\s*["']Programs["']\s*,\s*["']Startup["']|CurrentVersion\\{1,2}Run\b/ nocase
        $get = /\b(urlopen|urlretrieve)\s*\(|\b(reques|\B\b)ts\.get\s*\(|\b(ht|\B\b)tpx\.get\s*\(/
        $write = /\.write\s*\(\s*\w{1,30}\.(content|read\s*\(\s*\))|\burlretrieve\s*\(/
    condition:
        $startup and $get and $write
}

rule detached_background_process {
    meta:
        indicator = "persistence_rule"
        capability = "persistence"
        weight = 6
        label = "starts a detached process that outlives its parent"
    strings:
        // `spawn('node', ['x.js'], {detached: true, stdio: 'ignore'}).unref()`: the
        // installer (or the importing program) returns at once, the payload keeps running
        // unseen. Update checkers do this too, which is why it weighs little alone.
        $d = /detached\s*:\s*(true|!0)/
        $u = /\.unref\s*\(\s*\)/
        $s = /\b(spawn|fork|exec|execFile)\s*\(/
        $alias = /child_process["']\s*\)\s*\.\s*(spawn|fork|exec|execFile)\b/
    condition:
        $d and $u and ($s or $alias)
}

rule command_server_backdoor {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 10
        label = "runs commands received over the network"
    strings:
        // (each name's head hidden by `(...|\B\b)`: the atoms are `teSe`, `TPSe`, `tser`,
        // `sten`, not the `crea`, `HTTP`, `sock`, `.lis` of every create, URL, socket, list)
        $srv = /(\bcrea|\B\b)teServer\s*\(|(\bHT|\B\b)TPServer\s*\(|\bTCPServer\s*\(|(\bsocke|\B\b)tserver\.\w+\s*\(|(\b\.li|\B\b)sten\s*\(/
        $js = /\b(exec|execSync|spawn|eval)\s*\(\s*(body|data|req\.(body|query|url)|chunk|command|cmd)\s*[,)]/
        $py = /\b(os\.system|subprocess\.\w+|(os|\B\b)\.popen|exec|eval)\s*\(\s*(self\.)?(data|command|cmd|request\.\w+|conn\.recv\s*\(\s*\d+\s*\)\.decode\s*\(\s*\)|\w+\.recv\s*\()/
    condition:
        $srv and ($js or $py)
}

rule command_channel_client {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 13
        label = "runs the commands its server sends"
    strings:
        // the other half of command_server_backdoor: the implant dials its server and runs
        // the `cmd` field of each message it gets (`subprocess.run(msg["cmd"], shell=True)`)
        $connect = /\bsocket\.create_connection\s*\(|\.connect\s*\(\s*\(|\bnet\.(connect|createConnection)\s*\(/
        // or polls a web address for its tasks (a gist, a paste, its own server)
        $poll = /\burlopen\s*\(|\b(reques|\B\b)ts\.(get|post)\s*\(|\bfetch\s*\(|\baxios\.(get|post)\s*\(/
        // (not a bare `exec`: in JavaScript that is also every regular expression's method)
        $run_field = /\b(os\.system|subprocess\.(run|call|Popen|check_output|getoutput)|(os|\B\b)\.popen|execSync|child_process\.exec)\s*\(\s*[\w.]{1,30}\s*\[\s*["'](cmd|command|shell|exec|run)["']\s*\]/
        $run_attr = /(^|[^.\w$])(execSync|spawnSync|spawn)\s*\(\s*\w{1,30}\.(cmd|command)\s*[,)]/
    condition:
        ($connect or $poll) and ($run_field or $run_attr)
}

rule destructive_command {
    meta:
        indicator = "destructive_command_rule"
        capability = "destructive"
        weight = 8
        label = "shuts down or wipes the machine"
    strings:
        // `(...|\B\b)` as at the head of this file: the atoms are `-rf `, `erof`, `t c:`, `r /w`,
        // not the `rm ` of every `form `, nor `form`, `powe`, `ciph`
        $a = /["'`;&|]\s*(sudo\s+)?(shutdown(\.exe)?\s+[-\/][a-z]|(pow|\B\b)eroff\s*["'`;&]|(rm\s+|\B\b)-[rf]{2}\s+(\/|~|\$HOME|\/\*)\s*["'`;&]|mkfs\.\w+|(forma|\B\b)t\s+c:|vssadmin\s+delete\s+shadows|(ciphe|\B\b)r\s+\/w)/ nocase
        // `\|:|\|\s+:` is `\|\s*:` spelled so that yara-x has a two-byte atom (`|:`, `| `...)
        // instead of a lone `:` or `{`, which code and JSON are full of; `&(\}|\s\}|\s\s+\})`
        // is `&\s*\}` spelled so that yara-x takes its atom there (`&}`, `& }`...): the rule
        // then costs a sixth as much to scan
        $fork_bomb = /:\s*\(\s*\)\s*\{\s*:\s*(\|:|\|\s+:)\s*&(\}|\s\}|\s\s+\})\s*;\s*:/
        // the same from code: a whole working folder, home folder or root deleted
        // recursively (kill switches that wipe the app they are planted in)
        $js_wipe = /\b(rmSync|rmdirSync|rimraf(\.sync)?|removeSync|emptyDirSync)\s*\(\s*(process\.cwd\(\)|(os|require\s*\(\s*["'](node:)?os["']\s*\))\.homedir\(\)|["']\/["'])\s*[,)]/
        $py_wipe = /\brmtree\s*\(\s*(os\.getcwd\(\)|os\.path\.expanduser\(\s*["']~["']\s*\)|Path\.(home|cwd)\(\)|["']\/["'])\s*[,)]/
    condition:
        $a or $fork_bomb or $js_wipe or $py_wipe
}

rule native_library_downloaded_and_loaded {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 12
        label = "downloads a native library and loads it"
    strings:
        // a Node addon fetched at run time and loaded by path: prebuilt addons are
        // fetched by their install hook and loaded with `require`, never by `dlopen`
        $dlopen = /\bprocess\.dlopen\s*\(/
        $js_get = /\b(https?\.(get|request)|fetch|axios(\.get)?|got)\s*\(/
        $js_write = /\b(writeFileSync|writeFile|createWriteStream)\s*\(/
        // the same in Python through ctypes
        $load = /\b(CDLL|WinDLL|(cdll|windll)\.LoadLibrary)\s*\(/
        $py_get = /\b(urlopen|urlretrieve|(reques|\B\b)ts\.get|(ht|\B\b)tpx\.get)\s*\(/
        // the response itself written (not any write: stealers load NSS through ctypes
        // to decrypt browser passwords and write their loot)
        $py_write = /\.write\s*\(\s*[\w.]{1,40}(\s*\([^()\n]{0,200}\))?\.(content|read\s*\(\s*\))\s*\)|\burlretrieve\s*\(/
    condition:
        ($dlopen and $js_get and $js_write) or ($load and $py_get and $py_write)
}

rule download_write_and_run {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 12
        label = "saves a download to disk and runs it"
    strings:
        $get = /\burlopen\s*\(|\b(reques|\B\b)ts\.get\s*\(|\b(ht|\B\b)tpx\.get\s*\(/
        $write = /\.write\s*\(\s*(\w{1,20}\.(content|read\s*\(\s*\))\s*\)|[\w.]{0,40}(urlopen|requests\.get|httpx\.get)\s*\()/
        // (`(sta|\B\b)rtfile`: the atom is `rtfi`, not the `star` of every start)
        $run = /\b(os\.startfile|subprocess\.(Popen|call|run|check_call)|os\.system)\s*\(|(^|[^.\w])(system|(sta|\B\b)rtfile)\s*\(\s*f?["']/
        // `urlretrieve(url, path)` saves in one call; with an executable's name in the file
        $retrieve = /\burlretrieve\s*\(/
        // (a Java archive too: started with `java -jar`, JarkaStealer's way)
        $exe_name = /["'][^"'\n]{0,60}\.(exe|scr|bat|vbs|msi|jar)["']/ nocase
        $chmod = /\bos\.chmod\s*\(/
        // or a script saved by `urlretrieve` and run by the interpreter itself
        $interpreter = /\[\s*sys\.executable\s*,/
        // a download streamed to disk in chunks, through a session or not, under an
        // executable's name: `for c in r.iter_content(...): f.write(c)`
        $session = /\brequests\.Session\s*\(/
        $stream = /\.iter_content\s*\(|\bcopyfileobj\s*\(/
    condition:
        ($get and $write and $run) or ($retrieve and ($exe_name or $chmod or $interpreter) and $run)
            or (($get or $session) and $stream and $exe_name and $run)
}

rule ssh_authorized_key_backdoor {
    meta:
        indicator = "persistence_rule"
        capability = "persistence"
        weight = 10
        label = "adds an SSH key to authorized_keys: a standing backdoor"
    strings:
        $keys = "authorized_keys"
        $key = /ssh-(rsa|ed25519|dss) AAAA/
        $js = /\b(appe|\B\b)ndFile(Sync)?\s*\(|\b(wri|\B\b)teFile(Sync)?\s*\(|\b(crea|\B\b)teWriteStream\s*\(/
        // (`(open|\B\b)`: the atoms are the quoted modes, not every `open`)
        $py = /\b(open|\B\b)\s*\([^\n]{0,120}["'](a|w|ab|wb|a\+)["']/
        $sh = />>\s*[^\n]{0,40}authorized_keys/
    condition:
        $keys and $key and ($js or $py or $sh)
}

rule js_download_chmod_run {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "downloads a file into a temporary folder, makes it executable and runs it"
    strings:
        // (spelled as in js_eval_of_download, for its atoms)
        $get = /\b((ht|\B\b)(tp\.get|tp\.request|tps\.get|tps\.request)|fetch|axios(\.get)?|(reque|\B\b)st\.get)\s*\(|\b(requ|\B\b)est(\(|\s\s*\()/
        $save = /\b(crea|\B\b)teWriteStream\s*\(|\b(wri|\B\b)teFile(Sync)?\s*\(/
        $tmp = /["'`](\/tmp\/|\/var\/tmp\/|\/dev\/shm\/)/
        $chmod = /\bchmod(Sync)?\s*\([^\n)]{0,80}(0?777|0?755|0o7[57]{2}|["']\+x["'])/
        $run = /\b(exec|execSync|execFile|execFileSync|spawn|spawnSync)\s*\(/
    condition:
        $get and $save and $tmp and $chmod and $run
}

rule js_download_then_run_script {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "saves a downloaded script and runs it with node"
    strings:
        // (spelled as in js_eval_of_download, for its atoms)
        $get = /\b((ht|\B\b)(tp\.get|tps\.get)|fetch|[Aa]xios(\.get)?|(reque|\B\b)st\.get|got)(\s*\(\s*|\B\b)(url|["'`]https?:|\B\b)|\b(requ|\B\b)est(\(|\s\s*\()(\s*(url|["'`]https?:)|\B\b)/
        // (axios called with its options: `Axios({ url, responseType: 'stream' })`)
        $get_options = /\b[Aa]xios(\.request)?\s*\(\s*\{/
        // written whole, or streamed (`response.data.pipe(fs.createWriteStream(p))`)
        $save = /\b(wri|\B\b)teFile(Sync)?\s*\(|\bcreateWriteStream\s*\(/
        $run = /\b(exec|execSync|spawn|spawnSync)\s*\(\s*`node\s+\$\{/
        $run_joined = /\b(exec|execSync)\s*\(\s*["']node\s+["']\s*\+/
    condition:
        ($get or $get_options) and $save and ($run or $run_joined)
}

rule python_exec_escaped_string {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "executes code spelled as hex or octal escapes"
    strings:
        // `(...|\B\b)`: see the head of this file (the atoms are exec and eval, not the
        // quoted escapes that fill binary-ish strings and tests).
        $a = /\b(exec|eval)\s*\(\s*b?["']((\\x[0-9a-fA-F]{2}|\\[0-7]{3}){16}|\B\b)/
        // `eval("\x65\166\x61\154")`: a builtin fetched by a name spelled only in escapes
        $name = /\b(exec|eval)\s*\(\s*["']((\\x[0-9a-fA-F]{2}|\\[0-7]{3}){4,15}|\B\b)["']\s*\)/
    condition:
        $a or $name
}

rule unverified_tls_download_to_disk {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 8
        label = "turns off TLS verification, downloads and saves a file"
    strings:
        $tls = /NODE_TLS_REJECT_UNAUTHORIZED["'\]]{0,2}\s*=\s*["']?0/
        // (spelled as in js_eval_of_download, for its atoms)
        $get = /\b((ht|\B\b)(tp\.get|tps\.get)|fetch|axios(\.get)?|got)(\s*\(|\B\b)|\b(requ|\B\b)est(\(|\s\s*\()/
        $save = /\b(wri|\B\b)teFile(Sync)?\s*\(|\b(crea|\B\b)teWriteStream\s*\(/
    condition:
        $tls and $get and $save
}

rule shell_command_decoded_at_run_time {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "runs a shell command decoded from base64 or hex"
    strings:
        $py = /\b(os\.system|(os|\B\b)\.popen|subprocess\.(run|call|Popen|check_output|check_call|getoutput))\s*\(\s*\[?\s*(base64\.)?(b64d|b64decode|[a-z_]{0,20}decode|bytes\.fromhex|codecs\.decode)\s*\(/
        $js = /\b(exec|execSync|spawn|spawnSync)\s*\(\s*(Buffer\.from\s*\([^\n)]{1,200},\s*["'](base64|hex)["']\s*\)|atob\s*\()/
        // The command spelled as character codes: `execSync(Buffer.from([101,99,104,...]))`.
        $js_codes = /\b(exec|execSync|spawn|spawnSync)\s*\(\s*(Buffer\.from\s*\(\s*\[\s*\d{1,3}\s*,|String\.fromCharCode\s*\(\s*\d{1,3}\s*,)/
    condition:
        any of them
}

rule python_xor_decode_then_exec {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "executes code decoded character by character with XOR"
    strings:
        $xor = /chr\s*\(\s*ord\s*\([^()\n]{1,80}\)\s*\^/
        $run = /\b(exec|eval)\s*\(\s*(compile\s*\(\s*)?[A-Za-z_]\w{0,60}\s*[,)]/
        // or `exec` bound to another name first (`_x, _y = exec, str`), called later
        $alias_tuple = /=\s*(\w{1,40}\s*,\s*){0,10}(exec|eval)\s*,\s*\w{1,40}/
        $alias_name = /\n[ \t]*\w{1,40}\s*=\s*(exec|eval)[ \t]*\r?\n/
    condition:
        $xor and ($run or $alias_tuple or $alias_name)
}

rule runs_script_placed_in_temp {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 12
        label = "writes or downloads a script into a temporary or profile folder and runs it"
    strings:
        // `subprocess.call("python3 /tmp/x.py &", shell=True)` after writing or fetching
        // it: code that is not in the package, run from a world-writable folder by a fixed
        // path. Programs that need a temporary script use tempfile and run its name.
        $run = /["'`](python3?|node|bash|sh|perl)\s+(\/tmp|\/var\/tmp|\/dev\/shm)\/[\w.\/-]{1,60}/
        // the Windows twin: a script under %APPDATA% or %TEMP% by a fixed name, started
        // (`startfile(environ['appdata'] + '\\x.pyw')`, `Popen(os.getenv('TEMP') + '\\x.vbs')`)
        // (call and extension hidden by `(...|\B\b)`, see the head of this file: the atoms
        // are `appd` and `emp"`..., not the nocase `run(`, `call` or `.py'` of every script;
        // one pattern, as two alternatives of a top-level `|` it cost more)
        $run_win = /(\b(startfile|Popen|system|call|run)\s*\(\s*[^\n]{0,60}|\B\b)(appdata|(t|\B\b)emp)["'\])]([^\n]{0,60}\.(pyw?|vbs|bat|cmd|ps1|hta)["']|\B\b)/ nocase
        $write = /\.write\s*\(/
        $fetch = /\b(urlretrieve|curl|wget)\b/
    condition:
        ($run or $run_win) and ($write or $fetch)
}

rule python_decode_into_variable_then_exec {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 14
        label = "decodes into a variable, then executes it a few lines below"
    strings:
        // `X = base64.b64decode(X)`, `X = zlib.decompress(X)`, then `exec(X)` within five
        // lines: the same decode-and-execute spread over statements so no line shows both.
        // `(...|\B\b)`: see the head of this file (the atom is exec, not `loads` or
        // `decompress`, each of which started a five-line verification).
        $a = /((b64decode|b32decode|b85decode|decompress|loads|unhexlify)|\B\b)\s*\([^\n]{0,200}\n([^\n]{0,200}\n){0,4}[^\n]{0,40}[^.\w]exec\s*\(\s*[A-Za-z_]\w{0,40}\s*[,)]/
    condition:
        $a
}

rule js_decode_into_variable_then_run {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 14
        label = "decodes into a variable, then runs it as code a few lines below"
    strings:
        // `const code = Buffer.from(x, 'base64').toString()` or `atob(x)`, then
        // `vm.runInThisContext(code)`, `eval(code)` or `new Function('require', code)`
        // within five lines: js_decode_then_eval spread over statements
        $a = /(Buffer\.from\s*\([^\n]{0,200}["'](base64|hex)["']|\batob\s*\()[^\n]{0,200}\n([^\n]{0,200}\n){0,4}[^\n]{0,80}\b(eval|Function|runInThisContext|runInNewContext|runInContext)\s*\(\s*([^\n()]{0,80},\s*)?[A-Za-z_$][\w$]{0,40}\s*[,)]/
        // the same in one statement after a literal too long for the window above:
        // `var _ = Buffer.from('7661...', 'hex').toString(); eval(_)`
        $b = /["'](base64|hex)["']\s*\)[^\n]{0,120}\b(eval|Function|runInThisContext|runInNewContext|runInContext)\s*\(\s*[A-Za-z_$][\w$]{0,40}\s*\)/
    condition:
        $a or $b
}

rule download_script_run_with_interpreter {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 12
        label = "downloads a script, saves it and runs it with the Python interpreter"
    strings:
        // `code = session.get(URL).text`, written to a file, then
        // `Popen([sys.executable, path])`: remote code run outside the package's files
        $get = /\b\w{0,20}(sessi|\B\b)on\.get\s*\(|\b\w{0,20}(reques|\B\b)ts\.get\s*\(|\b\w{0,20}(clie|\B\b)nt\.get\s*\(|\burlopen\s*\(/ nocase
        $text = /=\s*\w{1,20}\.(text|read\s*\(\s*\)\.decode\s*\([^)]{0,10}\))/
        $text_inline = /=\s*\w{0,20}\.get\s*\([^\n]{0,200}\)\.text\b/
        // (`(open|\B\b)`: the atoms are the quoted mode, not every `open`)
        $write = /\b(open|\B\b)\s*\([^\n]{1,80},\s*["']w["']/
        $run = /\[\s*sys\.executable\s*,\s*[a-zA-Z_]\w{0,40}\s*[,\]]/
        // or an interpreter named outright: `Popen(["pythonw.exe", path])` (no console)
        $run_named = /\[\s*["']pythonw?[\d.]{0,5}(\.exe)?["']\s*,\s*[a-zA-Z_]\w{0,40}\s*[,\]]/
    condition:
        $get and ($text or $text_inline) and $write and ($run or $run_named)
}

rule shellcode_loader {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "copies bytes into executable memory and runs them (shellcode loader)"
    strings:
        // memory allocated executable (VirtualAlloc, mmap with PROT_EXEC), the payload
        // copied in, a thread or a function pointer started on it: the calls are the
        // Win32 and libc names ctypes and cffi reach them by
        // called through a library object (`k32.VirtualAlloc(`), not declared (`def ...`)
        $alloc = /\.VirtualAlloc(Ex)?\s*\(|\bPROT_EXEC\b/
        $copy = /\bRtlMoveMemory\b|\bmemmove\s*\(|\bWriteProcessMemory\b/
        $run = /\.Create(Remote)?Thread\s*\(|\bCFUNCTYPE\s*\([^\n]{0,80}\)\s*\(|\.EnumWindows\s*\(|\.QueueUserAPC\s*\(/
    condition:
        $alloc and $copy and $run
}
