// Techniques that hide what code does from its readers or from the machine's defences:
// names only the interpreter can read, elevation through hijacked Windows handlers,
// instructions for AI agents hidden in tool descriptions. See docs/rules.md.

rule python_math_alphanumeric_names {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 14
        label = "names spelled in mathematical letters (Python folds them to plain ones: exec, os, requests)"
    strings:
        // Two letters from U+1D400-U+1D7FF (bold, italic, sans-serif...) ending a name that
        // is assigned, called or dereferenced. Python NFKC-normalises identifiers, so
        // `𝗼𝘀.system` is `os.system` to the interpreter and unreadable to a grep. Byte
        // patterns: a regular expression over these bytes cost three times as much, except
        // for `$assign`, where the hex form's atom was the ` = ` of every assignment; the
        // `|\B\b` branch (see the head of execution.yar) leaves it `F0 9D`.
        $assign = /\xF0\x9D[\x00-\xFF]{2}\xF0\x9D[\x00-\xFF]{2}( =|\B\b) /
        $call = { F0 9D [2] F0 9D [2] 28 }
        $attr = { F0 9D [2] F0 9D [2] 2E }
    condition:
        #assign >= 2 and (#call + #attr) >= 1
}

rule windows_uac_bypass {
    meta:
        indicator = "privilege_escalation_rule"
        capability = "privilege"
        weight = 15
        label = "hijacks the handler of an auto-elevating Windows program to bypass UAC"
    strings:
        // fodhelper/computerdefaults read ms-settings, eventvwr reads mscfile, sdclt reads
        // Folder or exefile: a command written there runs elevated without a prompt.
        $key1 = "shell\\open\\command" nocase
        $key2 = "shell\\\\open\\\\command" nocase
        // the programs as Windows spells them and in lower case (nocase on these short
        // names tripled the cost of the rule)
        $bin1 = "fodhelper"
        $bin2 = "computerdefaults"
        $bin3 = "ComputerDefaults"
        $bin4 = "eventvwr"
        $bin5 = "EventVwr"
        $bin6 = "sdclt"
        $bin7 = "wsreset"
        $bin8 = "WSReset"
    condition:
        any of ($key*) and any of ($bin*)
}

rule agent_tool_poisoning {
    meta:
        indicator = "agent_instruction_injection_rule"
        capability = "agent_injection"
        weight = 17
        label = "hides instructions for an AI agent in a tool description (read secrets, keep it from the user)"
    strings:
        // A tool an agent can call (MCP servers in Python and JavaScript)...
        $tool1 = /@\w{1,20}\.tool\s*\(/
        $tool2 = /\bFastMCP\s*\(/
        $tool3 = /\.(registerTool|setRequestHandler)\s*\(/
        $tool4 = /\bserver\.tool\s*\(/
        // ...whose description carries a pseudo-system tag...
        $tag = /<\/?(IMPORTANT|SYSTEM[_ A-Z]{0,20}|INSTRUCTIONS?|HIDDEN[_ A-Z]{0,20}|SECRET[_ A-Z]{0,20}|CRITICAL[_ A-Z]{0,20})>/
        // ...asking the model to read secrets or to keep quiet about it.
        // (secret files by name: the words alone, case-insensitive, matched all over SDKs
        // and cost three times the rest of the rule)
        $secret = /(\.ssh\/|id_rsa|mcp\.json|\.aws\/|\b(api[_-]?keys?|secrets?|credentials?|tokens?|passwords?)\.(txt|json|env|ya?ml)\b)/
        // (`(user|\B\b)`, as at the head of execution.yar: the atom was every `user`)
        $quiet = /\b([Dd]o not|[Dd]on't|[Nn]ever|NOT)\s+(tell|mention|inform|reveal|notify|show)\b[^\n]{0,30}\b(user|\B\b)/
    condition:
        any of ($tool*) and $tag and ($secret or $quiet)
}

rule coding_agent_unleashed {
    meta:
        indicator = "agent_instruction_injection_rule"
        capability = "agent_injection"
        weight = 14
        label = "runs a local AI coding agent with its safeguards off, told to hunt secrets or destroy data"
    strings:
        // the s1ngularity (Nx) and Amazon Q extension attacks: the developer's own agent
        // CLI, its permission prompts switched off...
        $unleashed = /--(dangerously-skip-permissions|yolo|trust-all-tools|dangerously-bypass-approvals-and-sandbox)\b/
        // ...with a prompt that sends it after wallets and keys or has it wipe the machine
        $hunt = /\b([Ww]allets?|[Mm]nemonics?|[Ss]eed phrases?|[Pp]rivate keys?|[Kk]eystores?)\b/
        // (rare phrases only: `delete ... files` was 3% of the code scan)
        $wipe = /[Ff]actory[- ]state|terminate-instances|delete-user|\bs3 rm\b|\brm -rf ~/
    condition:
        $unleashed and ($hunt or $wipe)
}

rule base64_command_then_run {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "runs shell commands it decodes from base64 (curl, wget, PowerShell, bash -c)"
    strings:
        // The encoded download command of `base64_download_command` (obfuscation.yar) in a
        // file that also starts processes: decoded by a local helper, then run.
        $cmd = /["'](Y3VybCBodHRw|Y3VybCAt|d2dldCBodHRw|d2dldCAt|cG93ZXJzaGVsbC|YmFzaCAtYy|aXdyIGh0dH|SW52b2tlLVdlYlJlcXVlc3Qg)[A-Za-z0-9+\/]{8}/
        $run = /\b(subprocess\.(Popen|call|run|check_output|check_call|getoutput)|os\.system|(os|\B\b)\.popen|execSync|spawnSync|child_process)\b/
    condition:
        $cmd and $run
}

rule removes_own_source {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 6
        label = "deletes its own file once it has run (anti-forensics)"
    strings:
        // `os.remove(os.path.abspath(__file__))`, `os.unlink(sys.argv[0])`,
        // `Path(__file__).unlink()`, `fs.unlinkSync(__filename)`: nothing is left to review.
        $py = /\b(remove|unlink)\s*\(\s*(os\.path\.(abspath|realpath)\s*\(\s*)?(__file__|(sys\.)?argv\[0\])\s*\)/
        $path = /\bPath\s*\(\s*__file__\s*\)(\.resolve\s*\(\s*\))?\.unlink\s*\(/
        $js = /\b(unlinkSync|rmSync)\s*\(\s*__filename\b/
    condition:
        any of them
}

rule builtin_names_from_char_codes {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 12
        label = "spells __import__, __builtins__, exec, eval or getattr as a list of character codes"
    strings:
        // `''.join(chr(c) for c in [95, 95, 105, 109, ...])`: the dynamic-execution builtins
        // are the names a loader hides; data tables do not list exactly these codes.
        $import = /\[\s*95\s*,\s*95\s*,\s*105\s*,\s*109\s*,\s*112\s*,\s*111\s*,\s*114\s*,\s*116\s*,\s*95\s*,\s*95\s*\]/
        $builtins = /\[\s*95\s*,\s*95\s*,\s*98\s*,\s*117\s*,\s*105\s*,\s*108\s*,\s*116\s*,\s*105\s*,\s*110\s*,\s*115\s*,\s*95\s*,\s*95\s*\]/
        $exec = /\[\s*101\s*,\s*120\s*,\s*101\s*,\s*99\s*\]/
        $eval = /\[\s*101\s*,\s*118\s*,\s*97\s*,\s*108\s*\]/
        $getattr = /\[\s*103\s*,\s*101\s*,\s*116\s*,\s*97\s*,\s*116\s*,\s*116\s*,\s*114\s*\]/
    condition:
        any of them
}

rule captures_screen {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "captures the screen"
    strings:
        // A screenshot holds whatever the user sees (passwords, messages, wallets); with a
        // network call in the same file it is spyware (data_exfiltration_rule).
        $a = /\bImageGrab\.grab\s*\(/
        $b = /\bpyautogui\.screenshot\s*\(/
        $c = /\bmss\s*\(\s*\)\s*(as\s+\w+\s*:|\.(shot|grab)\s*\()/
        $d = /\bpyscreenshot\.grab\s*\(/
    condition:
        any of them
}

rule uploads_to_file_host {
    meta:
        indicator = ""
        capability = "network"
        weight = 0
        label = "uploads files to a cloud drive"
    strings:
        // Cloud-drive SDKs send as surely as HTTP calls do (stealers upload their loot).
        $a = /\bdropbox\.Dropbox\s*\(/
        $b = /\.files_upload\s*\(/
    condition:
        any of them
}

rule python_download_into_variable_then_exec {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 14
        label = "reads a download into a variable, then executes it a few lines below"
    strings:
        // `code = resp.read().decode()` (or `.text`), then `exec(code)` or
        // `exec(compile(code, ...))` within ten lines, in a file that downloads: the
        // exec-of-download spread over statements so that no line shows both.
        // `(...|\B\b)`: the atom is exec, not read/text/content (see the head of
        // execution.yar)
        $a = /=\s*[A-Za-z_]\w{0,40}\.((read\s*\(\s*\)(\.decode\s*\([^)\n]{0,20}\))?|text|content)|\B\b)\s*\n([^\n]{0,200}\n){0,9}[^\n]{0,40}[^.\w]exec\s*\(\s*(compile\s*\(\s*)?[A-Za-z_]\w{0,40}\s*[,)]/
        $net = /\b(urlopen|urllib2)\s*\(|\b(reques|\B\b)ts\.(get|post)\s*\(|\b(ht|\B\b)tpx\.(get|post)\s*\(/
    condition:
        $a and $net
}

rule detached_python_on_inline_code {
    meta:
        indicator = "persistence_rule"
        capability = "exec"
        weight = 13
        label = "starts a second Python interpreter on inline code that imports a module"
    strings:
        // `Popen(["python3", "-c", "import payload"], close_fds=True)`: the import runs in a
        // process of its own, outside the one that imported the package (and its errors).
        // Only an import, nothing else: no result is read, the module's import-time code
        // is the point (probes such as "import time; time.sleep(60)" do not match).
        $a = /\bPopen\s*\(\s*\[\s*(["']python[\d.]*(\.exe)?["']|sys\.executable)\s*,\s*["']-c["']\s*,\s*["'](import\s+[\w.]+|from\s+[\w.]+\s+import\s+[\w.]+)\s*["']/
    condition:
        $a
}

rule telegram_desktop_session_search {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "searches folders for Telegram Desktop's tdata session folder"
    strings:
        // `tdata` holds Telegram Desktop's logged-in session: copied elsewhere, it opens the
        // account without password or code.
        $name = /["']tdata["']/
        $walk = /\b(os\.walk|os\.listdir|os\.scandir|glob\.glob|\.rglob|\.iterdir)\s*\(/
    condition:
        $name and $walk
}

rule roblox_cookie_from_browser {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 7
        label = "reads the Roblox session cookie from the browser"
    strings:
        // Roblox clients take `.ROBLOSECURITY` as a parameter; reading it out of the
        // browser's cookie store is taking over the account.
        $cookie = "ROBLOSECURITY"
        $store = /\bbrowser_cookie3\.\w+\s*\(|Cookies["']?\s*\)|Network[\\\/]{1,2}Cookies/
    condition:
        $cookie and $store
}

rule fronted_command_channel {
    meta:
        indicator = "reverse_shell_rule"
        capability = "exec"
        weight = 12
        label = "talks through a CDN under another host's name (domain fronting) and runs commands"
    strings:
        // A named `Host` header (see `host_header_fronting` in network.yar) set on requests
        // in a file that also runs shell commands: a command-and-control client hiding its
        // server behind a trusted front (TrevorC2 and the like).
        $host = /["']Host["']\s*:\s*(["'][\w-]{1,63}(\.[\w-]{1,63}){1,6}["']|[A-Z][A-Z_]{2,40}\b)/
        $run = /\b(subprocess\.(Popen|call|run|check_output|getoutput)|os\.system|(os|\B\b)\.popen)\s*\(/
        $net = /\b(urlopen|Request|HTTPSConnection)\s*\(|\b(reques|\B\b)ts\.(get|post)\s*\(/
    condition:
        $host and $run and $net
}

rule download_made_executable_in_temp {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "downloads into a world-writable folder and makes the file executable"
    strings:
        // `wget -qO /tmp/x URL && chmod +x /tmp/x` in a command line the code builds: the
        // run may follow in another command, the drop is already the dropper's.
        $a = /\b(wget|curl)\s[^\n]{0,200}(-[a-zA-Z]*[oO]|--output(-document)?)\s*["']?\/(tmp|var\/tmp|dev\/shm)\/[^\n]{0,200}\bchmod\s+(\+x|[0-7]?7[0-7]{2})\s+["']?\/(tmp|var\/tmp|dev\/shm)\//
        $b = /\bcd\s+\/(tmp|var\/tmp|dev\/shm)\/?\s*(&&|;)\s*(wget|curl)\s[^\n]{0,200}(&&|;)\s*chmod\s+(\+x|[0-7]?7[0-7]{2})\s/
    condition:
        $a or $b
}

rule python_detached_process {
    meta:
        indicator = "persistence_rule"
        capability = "exec"
        weight = 6
        label = "starts a process detached from its parent (DETACHED_PROCESS, no window)"
    strings:
        // The Python twin of `spawn(..., {detached: true}).unref()`: the process outlives
        // the importer and shows no console.
        $popen = /\bPopen\s*\(/
        $flags = /creationflags\s*=\s*[\w.|\s]{0,80}\b(DETACHED_PROCESS|CREATE_NO_WINDOW)\b/
    condition:
        $popen and $flags
}

rule requests_elevation {
    meta:
        indicator = "privilege_escalation_rule"
        capability = "privilege"
        weight = 8
        label = "asks Windows for administrator rights (ShellExecute runas, Start-Process -Verb RunAs)"
    strings:
        // The Windows twin of `sudo` in an npm hook: installing or importing a library never
        // needs an administrator, a payload that wants the machine does.
        $a = /\bShellExecute(Ex)?[WA]?\s*\([^\n]{0,80}["']runas["']/
        $b = /Start-Process\b[^\n]{0,200}-Verb\s+["']?RunAs\b/ nocase
    condition:
        any of them
}

rule installed_package_patched {
    meta:
        indicator = "persistence_rule"
        capability = "persistence"
        weight = 10
        label = "appends to the installed code of another package"
    strings:
        // Another package's files located by its name (`find_spec("requests").origin`,
        // `inspect.getsourcefile(requests.sessions)`) and opened to append: its next
        // import runs what was appended, a hook that outlives this package's removal.
        $locate = /\bfind_spec\s*\(\s*["'][\w.]+["']\s*\)|\b(getsourcefile|getfile)\s*\(/
        // (`(open|\B\b)`: the atoms are the quoted modes, as in download_planted_in_site_packages)
        $append = /\b(open|\B\b)\s*\([^\n]{0,120},\s*(mode\s*=\s*)?["'](a|ab|at|a\+|r\+)["']/
    condition:
        $locate and $append
}

rule download_planted_in_site_packages {
    meta:
        indicator = "persistence_rule"
        capability = "persistence"
        weight = 10
        label = "writes downloaded code into site-packages"
    strings:
        // A module (or `.pth`) written into site-packages is imported by every program that
        // names it, or run at every interpreter start: a download planted there persists.
        $site = /\bsite\.(getsitepackages|getusersitepackages)\s*\(|\bsysconfig\.get_paths\s*\(\s*\)\s*\[\s*["'](pure|plat)lib["']/
        // (`(open|\B\b)`: the atoms are the quoted modes, not every `open`; see the head of
        // execution.yar)
        $write = /\b(open|\B\b)\s*\([^\n]{0,160}["'][wa]b?["']/
        $net = /\b(urlopen|urlretrieve|requests\.\w+|httpx\.\w+|aiohttp\.\w+)\s*\(/
    condition:
        $site and $write and $net
}

rule environment_serialised_line_by_line {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "the whole environment, serialised name=value (secrets of CI and developers)"
    strings:
        // `"\n".join(f"{k}={v}" for k, v in os.environ.items())`: the same dump as
        // `json.dumps(os.environ)` (harvesting.yar), spelled as a comprehension.
        $a = /\{\s*\w{1,20}\s*\}\s*[=:]\s*\{\s*\w{1,20}\s*\}["']\s*for\s+\w{1,20}\s*,\s*\w{1,20}\s+in\s+os\.environ\.items\s*\(\s*\)/
    condition:
        $a
}

rule xor_decoded_shell_command {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "runs a shell command it decodes with XOR"
    strings:
        // `bytes([b ^ key for b in command])` or `chr(ord(c) ^ k)`, and a variable handed
        // to a shell: the command line is kept unreadable until it runs.
        $xor1 = /\b(bytes|bytearray)\s*\(\s*\[?\s*\w{1,20}\s*\^\s*\w{1,20}\s+for\s+\w{1,20}\s+in\s+\w/
        $xor2 = /\bchr\s*\(\s*ord\s*\(\s*\w{1,20}\s*\)\s*\^/
        $run1 = /\bsubprocess\.(run|call|Popen|check_output|check_call)\s*\(\s*[a-z_]\w{0,40}\s*,[^\n]{0,120}shell\s*=\s*True/
        // popen a top-level branch with `os` hidden (see the head of execution.yar): the
        // atoms are `os.s` and `.pop`, not the `os.p` of every `os.path` or the `pen(` of
        // every `open(`
        $run2 = /\bos\.system\s*\(\s*[a-z_]\w{0,40}\s*\)|(\bos|\B\b)\.popen\s*\(\s*[a-z_]\w{0,40}\s*\)/
    condition:
        any of ($xor*) and any of ($run*)
}

rule http_polling_command_loop {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 12
        label = "polls a server in a loop and runs its answers as shell commands"
    strings:
        // `while True: cmd = requests.get(url).text ... os.system(cmd)`: a remote shell
        // over plain HTTP (no listening socket for `command_server_backdoor` to see). The
        // response's text comes within 3,000 bytes of the loop, the shell within 6,000.
        $loop = /\bwhile\s+(True|1)\s*:/
        // (`requests.get` is one of the `\w{1,20}.get`: not listed apart, where it cost the
        // atom `requ` of every request)
        $get = /\b(urlopen|\w{1,20}\.get)\s*\(/
        $text = /=\s*\w{1,30}\.text\b/
        // (spelled as in xor_decoded_shell_command's $run2, for its atoms)
        $shell1 = /\bos\.system\s*\(\s*[a-z_]\w{0,40}\s*\)|(\bos|\B\b)\.popen\s*\(\s*[a-z_]\w{0,40}\s*\)/
        $shell2 = /\bsubprocess\.(run|call|Popen|check_output|getoutput)\s*\(\s*[a-z_]\w{0,40}\s*,[^\n]{0,120}shell\s*=\s*True/
    condition:
        $get and for any i in (1..#loop): (
            $text in (@loop[i]..@loop[i] + 3000) and
            ($shell1 in (@loop[i]..@loop[i] + 6000) or $shell2 in (@loop[i]..@loop[i] + 6000))
        )
}

rule web_request_parameter_run_as_command {
    meta:
        indicator = "reverse_shell_rule"
        capability = "reverse_shell"
        weight = 12
        label = "runs a web request's parameter as a shell command (web shell)"
    strings:
        // `subprocess.Popen(request.args.get('cmd'), shell=True)` in a Flask/Django view:
        // whoever reaches the server runs commands on it. (The call hidden by `(...|\B\b)`,
        // see the head of execution.yar: the atoms are `t.ar`, `t.fo`..., not every os.s
        // and subp.)
        // The request's body and headers too (`request.get_data()`), and Express's
        // `execSync(req.body.cmd)` (`/re/.exec(req.headers.range)` is a regular
        // expression's method, not matched).
        $a = /(\b(os\.system|os\.popen|subprocess\.\w+)\s*\(\s*reques|\B\b)t\.(args|form|values|GET|POST|json|get_json|get_data|data|headers|body)\b/
        $js = /(child_process\.|cp\.|[^.\w$])(exec|execSync|spawn|spawnSync|execFile)\s*\(\s*req\.(body|query|params|headers)\b/
    condition:
        $a or $js
}

rule records_keystrokes {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "records keystrokes (keylogger)"
    strings:
        // A global keyboard hook that stores what is typed: passwords, messages, cards.
        $pynput = /\bkeyboard\.Listener\s*\(\s*on_press\s*=/
        $kbd = /\bkeyboard\.(on_press|on_release|hook)\s*\(\s*\w/
        $win = /SetWindowsHookEx\w?\s*\([^\n]{0,40}WH_KEYBOARD_LL/
    condition:
        any of them
}

rule sends_mail {
    meta:
        indicator = ""
        capability = "network"
        weight = 0
        label = "sends e-mail"
    strings:
        // Mail is how many stealers and keyloggers ship their loot (with harvesting in
        // the same file: data_exfiltration_rule).
        $a = /\bsmtplib\.SMTP(_SSL)?\s*\(/
    condition:
        $a
}
