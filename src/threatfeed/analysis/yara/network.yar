// Where code talks to: the hosts, addresses and web hooks a file names, to report. Prose
// gets these too (see signatures.PROSE_FILES): a manual can name a collector as well.

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

