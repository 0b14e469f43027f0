// What code does over the network: capability markers for the correlation rules (sends
// data, runs commands, fronts a host) and DNS exfiltration. Prose does not get these
// (see signatures.PROSE_FILES): they describe calls, and prose makes none.

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
        // form-data's `form.submit({host, port, path})` or `form.submit('https://...')`
        $form = /\bsubmit\s*\(\s*(["'`]https?:|\{\s*(host|hostname|protocol|port)\b)/
        // a network module bound to a name of the code's choosing (`const kq =
        // require('https')`, `import kq from 'node:net'`): its calls are then `kq.get(...)`,
        // which the patterns above, keyed on the usual names, cannot see (the module names
        // split off as in $j5, for the atoms `tps'`, `net"`... rather than `requ` or `from`)
        $j6 = /(((require|\B\b)\s*\(\s*|\bfrom\s+)["'](node:)?(ht|\B\b)|\B\b)tps?["']|(((require|\B\b)\s*\(\s*|\bfrom\s+)["'](node:)?|\B\b)(net|tls|dgram|http2)["']/
        $p5 = /socket\.(gethostbyname|gethostbyname_ex|getaddrinfo|create_connection)\s*\(/
        $p6 = /\bfrom\s+(requests|httpx|urllib\.request)\s+import\s[^\n]{0,80}\b(get|post|put|urlopen|urlretrieve|Request|Session|Client|AsyncClient)\b/
        $s1 = /\b(curl|wget|Invoke-WebRequest|Invoke-RestMethod|nslookup)\s/
        // a blockchain node as the channel: web3's providers send what they are handed
        // (a transaction's data can carry anything)
        $chain = /\b(HTTPProvider|WebsocketProvider|JsonRpcProvider|WebSocketProvider)\s*\(/
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
