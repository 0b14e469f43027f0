// Where code talks to: capability markers for correlation, hosts and addresses to report.

rule sends_over_network {
    meta:
        indicator = ""
        capability = "network"
        weight = 0
        label = "sends data over the network"
    strings:
        $p1 = /\b(reques|\B\b)ts\.(get|post|put|request|Session)\s*\(/
        $p2 = /\b(urlopen|urlretrieve|urllib\.request\.Request|http\.client\.HTTPS?Connection|HTTPSConnection|HTTPConnection)\s*\(/
        // the dot inside each name, and `\B` in pycurl (always true between two letters),
        // make the atoms `tpx.`, `aioh`, `ib3.`, `pycu` instead of the `http` of every URL
        $p3 = /\b(httpx\.|aiohttp\.|urllib3\.|pycu\Brl\.)\w+/
        $p4 = /\.(sendto|sendall|connect)\s*\(\s*\(/
        // `(https?|http2)\.(request|get)` spelled out, for atoms such as `tp.r` instead of
        // the `http` of every URL
        $j1 = /\b(http\.request|https\.request|http2\.request|http\.get|https\.get|http2\.get)\s*\(/
        $j2 = /\b(fetch|axios(\.(get|post|request))?|XMLHttpRequest|got(\.(get|post))?)\s*\(|\b(sup|\B\b)eragent\s*\(|\b(n|\B\b)eedle\s*\(/
        // (`(require|\B\b)`: the atoms are the quoted module names, not every require; see
        // the head of execution.yar)
        $j3 = /(require|\B\b)\s*\(\s*["'](node-fetch|axios|request|got|needle)["']\s*\)/
        // (the module name split off, for the atoms `tps"`, `net'`... instead of the `"htt`
        // of every quoted URL)
        $j5 = /((require|\B\b)\s*\(\s*["'](node:)?(ht|\B\b)|\B\b)tps?["']\s*\)\s*\.\s*(get|request|connect|lookup)\s*\(|((require|\B\b)\s*\(\s*["'](node:)?|\B\b)(net|dns)["']\s*\)\s*\.\s*(get|request|connect|lookup)\s*\(/
        $j4 = /\b(net\.connect|net\.createConnection|dgram\.createSocket|dns\.(lookup|resolve\w*))\s*\(/
        $p5 = /socket\.(gethostbyname|gethostbyname_ex|getaddrinfo|create_connection)\s*\(/
        $p6 = /\bfrom\s+(requests|httpx|urllib\.request)\s+import\s[^\n]{0,80}\b(get|post|put|urlopen|urlretrieve|Request|Session|Client|AsyncClient)\b/
        $s1 = /\b(curl|wget|Invoke-WebRequest|Invoke-RestMethod|nslookup)\s/
    condition:
        any of them
}

rule runs_commands {
    meta:
        indicator = ""
        capability = "exec"
        weight = 0
        label = "runs shell commands"
    strings:
        $p1 = /\b(os\.system|(os|\B\b)\.popen|subprocess\.(Popen|call|run|check_output|check_call|getoutput)|os\.startfile|os\.exec[lv]p?e?)\s*\(/
        $j1 = /require\s*\(\s*["'](node:)?child_process["']\s*\)/
        $j2 = /\b(execSync|spawnSync|execFileSync)\s*\(/
    condition:
        any of them
}

rule exfiltration_service_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "exfil"
        weight = 10
        label = "messenger or webhook endpoint"
    strings:
        $a = /discord(app)?\.com\/api\/(v\d+\/)?webhooks\//
        $b = /api\.telegram\.org\/bot/
        // a team id (`T...`) after the kind: `services/YOUR/WEBHOOK/URL` is a placeholder
        $c = /hooks\.slack\.com\/(services|workflows)\/T[A-Z0-9]/
        $d = /\bwebhook\.site\b/
        $e = /\b[\w.-]{0,40}\.m\.pipedream\.net\b/
        $f = /\b(requestbin\.(net|com)|[\w-]{4,40}\.x\.pipedream\.net|hookbin\.com|beeceptor\.com|requestcatcher\.com|webhook\.cool|pipedream\.net)\b/
        // webhook relays forward whatever is posted to a private inbox: no service talks
        // to one for a living, a collector does
        $g = /\b[\w-]{6,40}\.hooks\.webhookrelay\.com\b/
    condition:
        any of them
}

rule oast_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "exfil"
        weight = 10
        label = "out-of-band testing host"
    strings:
        // `(head|\B\b)atom(tail|\B\b)` (see the head of execution.yar): each host's atom is
        // a part of it no other word has (`nslo`, `aryt`), not its first letters
        $a = /\b[\w.-]{0,80}((\.interac|\B\b)(t\.sh|tsh\.com)|\.oas(t\.(fun|live|me|online|pro|site)|tify\.com|\B\b)|\.burp(collaborator\.net|\B\b)|(\.can|\B\b)aryt(okens\.(com|org|net)|\B\b)|(\.d|\B\b)nslo(g\.(cn|link)|\B\b)|\.cey(e\.io|\B\b)|(\.requestre|\B\b)po\.c(om|\B\b)|\.bxs(s\.me|\B\b)|\.xss(\.ht|\B\b)|\.eye(s\.sh|\B\b))\b/ nocase
    condition:
        $a
}

rule tunnel_or_dynamic_dns_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "exfil"
        weight = 8
        label = "tunnel or dynamic-DNS host"
    strings:
        // atoms inside each host as in oast_url, not heads every file has (`.ser`, `.loc` and
        // `.por` are in `.server`, `.local` and `.port`)
        $a = /\b[\w-]{1,80}((\.ng|\B\b)rok(\.io|-free\.app|\.app|\.dev)|(\.ser|\B\b)veo\.(net|\B\b)|(\.l|\B\b)oca\.(lt|\B\b)|(\.tr|\B\b)yclo(udflare\.com|\B\b)|(\.du|\B\b)ckdn(s\.org|\B\b)|\.ddn(s\.net|\B\b)|\.no-(ip\.org|\B\b)|\.hop(to\.org|\B\b)|(\.po|\B\b)rtma(p\.io|\B\b)|(\.localhos|\B\b)t\.ru(n|\B\b)|(\.t|\B\b)cp\.n(grok\.io|\B\b))\b/ nocase
    condition:
        $a
}

rule payload_hosting_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "payload_host"
        weight = 5
        label = "paste or file-sharing host"
    strings:
        // `(...|\B\b)`: the atoms are the hosts, not the `http` of every URL, each host's a
        // rare part of it as in oast_url: `0x0.` gave the `0x0` of every hex constant,
        // `file`, `temp`, `cont`, `tran` are common words (`anon`, `bash` measured cheaper
        // than `nonf`, `ashu`)
        $a = /(https?:\/\/(www\.)?|\B\b)((pas|has|\B\b)tebi(n\.com\/raw|\B\b)|(past|\B\b)e\.ee(\/r|\B\b)|(transfe|\B\b)r\.sh|anon(files\.com|\B\b)|(fil|gofil|\B\b)e\.io|(fi|\B\b)lebi(n\.net|\B\b)|(tem|\B\b)p\.sh|bash(upload\.com|\B\b)|(0|\B\b)x0\.s(t|\B\b)|(rent|\B\b)ry\.c(o|\B\b)|(pa|\B\b)stes(\.io|\B\b)|(contr|\B\b)olc\.(com|\B\b)|(paste|\B\b)\.c-n(et\.org|\B\b))\b/ nocase
    condition:
        any of them
}

rule executable_on_file_host {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "payload_host"
        weight = 10
        label = "executable on a chat CDN or file host"
    strings:
        $a = /https?:\/\/(cdn|media)\.discordapp\.(com|net)\/attachments\/[^\s"']{1,200}\.(exe|scr|bat|dll|ps1|vbs|py|msi)\b/ nocase
    condition:
        $a
}

rule raw_ip_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "raw_ip"
        weight = 4
        label = "URL with a raw IP address"
    strings:
        $a = /(https?|ftp|tcp|wss?):\/\/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/
        // the atoms are the middle `-N-` (`(\d|\d\d|\d\d\d)` is `\d{1,3}` spelled so yara-x takes
        // them, the rest hidden by `(...|\B\b)` as at the head of execution.yar): the
        // `http` of every URL cost a long verification each
        $b = /(https?:\/\/[\w.-]{0,30}\b\d{1,3}-\d{1,3}|\B\b)-(\d|\d\d|\d\d\d)-(\d{1,3}\.[\w-]{2,40}\.[\w.-]{2,40}|\B\b)/
    condition:
        $a or $b
}

rule ipv4_literal {
    meta:
        indicator = "ip_identification_rule"
        capability = "raw_ip"
        weight = 0
        label = "IPv4 address"
    strings:
        // `\d\d?\d?` is `\d{1,3}`: spelled out, yara-x verifies each atom a third faster
        $a = /["'\/@( =:]\d\d?\d?\.\d\d?\d?\.\d\d?\d?\.\d\d?\d?["'\/:,) ;]/
    condition:
        $a
}

rule dns_exfiltration {
    meta:
        indicator = "dns_exfiltration_rule"
        capability = "dns_exfil"
        weight = 8
        label = "sends data in DNS queries"
    strings:
        // (the command hidden by `(...|\B\b)`, see the head of execution.yar: the atoms are
        // the `}.x` after the placeholder, not every host and ping)
        $fmt = /(\b(ping|nslookup|dig|host)\s[^\n"']{0,20}\{[^}\n]{1,60}|\B\b)\}\.[\w-]{1,63}\.[\w.-]{2,80}/
        $sh = /\b(nslookup|dig)\s+[^\n]{0,60}(\$\((whoami|hostname|id|uname|pwd)|`(whoami|hostname)|%USERNAME%|%COMPUTERNAME%|\$USER\b|\$HOSTNAME\b)/
        $js_dns = /\bdns\.(lookup|resolve|resolve4|resolveTxt|resolveAny)\s*\(/
        $js_data = /(toString\s*\(\s*["']hex["']\s*\)|base32|\.match\(\/\.\{1,\d{2}\}\/g\))/
        $py_dns = /\b(dns\.resolver\.(resolve|query)|socket\.gethostbyname|socket\.getaddrinfo)\s*\(\s*(f["']|["'][^"'\n]{0,40}["']\s*\.format|[\w.]{1,40}\s*\+)/
        $py_data = /(\.hex\(\)|hexlify|b32encode|b16encode)/
        $cmd_var = /["'](ping|nslookup|dig|host)\s+(-\w+\s+){0,3}(%s|\{\w{1,30}\})["']/
        $hex_chars = /["']%02x["']\s*%\s*ord\s*\(/
        // `Popen(["dig", "+short", f"{i}.{label}.x.example"])` with encoded data
        $cmd_list = /\[\s*["'](dig|nslookup|host|ping)["']\s*,/
        $encoded = /\b(urlsafe_b64encode|b32encode|b64encode)\b/
    condition:
        $sh or $fmt or ($js_dns and $js_data) or ($py_dns and $py_data)
        or ($cmd_var and ($py_data or $hex_chars))
        or ($cmd_list and ($py_data or $hex_chars or $encoded))
}

rule ip_logger_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "exfil"
        weight = 8
        label = "IP-logging link service"
    strings:
        $a = /\b(iplogger\.(com|org|ru|co|info)|grabify\.link|2no\.co|blasze\.tk|yip\.su|iplis\.ru|ps3cfw\.com)\b/ nocase
    condition:
        $a
}

rule messenger_webhook_with_token {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "exfil"
        weight = 12
        label = "webhook or bot URL with its secret token"
    strings:
        $discord = /discord(app)?\.com\/api\/(v\d+\/)?webhooks\/\d{17,20}\/[\w-]{60,}/
        $telegram = /api\.telegram\.org\/bot\d{8,11}:[\w-]{30,}/
        // `(...|\B\b)` around the bot id (see the head of execution.yar): the atom is the
        // `:AA` of the token, not "any three digits" (which cost a fifth to a third of all
        // signature scanning) nor the quote and first digits
        $telegram_token = /(["']\d{8,11}|\B\b):AA[\w-]{33}["']/
        $slack = /hooks\.slack\.com\/services\/T[A-Z0-9]{8,}\/B[A-Z0-9]{8,}\/[A-Za-z0-9]{20,}/
    condition:
        any of them
}

rule host_header_fronting {
    meta:
        indicator = ""
        capability = "exfil"
        weight = 0
        label = "sets the HTTP Host header to a named host (domain fronting)"
    strings:
        // `Request('https://pypi.python.org', headers={'Host': 'collector.example'})`: the
        // connection goes to a trusted front, the CDN routes it to the named host. Marker
        // only: it counts with harvesting in the same file (data_exfiltration_rule).
        $a = /["']Host["']\s*:\s*["'][\w-]{1,63}(\.[\w-]{1,63}){1,6}["']/
    condition:
        $a
}
