// Reading secrets that belong to the user of the machine, not to the package.

rule browser_credentials {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 7
        label = "browser saved passwords or cookies"
    strings:
        $ud = /User Data|Chrome|Chromium|Brave|Opera|Edge|Firefox|Yandex/
        $f1 = /Login Data|Web Data|Local State|logins\.json|key4\.db|cookies\.sqlite/
        $k1 = "encrypted_key"
        $k2 = "CryptUnprotectData"
        $k3 = "os_crypt"
        // the saved passwords with the file holding their key, taken away undecrypted
        $login = "Login Data"
        $state = "Local State"
    condition:
        ($ud and $f1 and ($k1 or $k2 or $k3)) or ($f1 and $k1 and $k3) or ($ud and $login and $state)
}

rule macos_keychain_and_login_password {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 7
        label = "the macOS keychain, or the login password asked for in a fake dialog"
    strings:
        // macOS stealers dump the keychain or pull one secret from it (the key Chrome
        // encrypts its passwords with: `security find-generic-password -wa Chrome`),
        // also as an argument list...
        // (`(...|\B\b)`, see the head of execution.yar: the atoms are the subcommands,
        // not the `secu` of every security)
        $security = /(\bsecurity["',\s]{1,6}(-\w{1,3}["',\s]{1,6}){0,3}|\B\b)(dump-keychain|find-generic-password|find-internet-password)\b/
        $db = /Library\/Keychains\/login\.keychain/
        // ...and ask for the password the keychain opens with, in a dialog of
        // AppleScript's that hides what is typed
        $prompt = /(with\s+|\B\b)hidden\s+answer\b/
    condition:
        any of them
}

rule discord_tokens {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 8
        label = "Discord tokens"
    strings:
        $a = "dQw4w9WgXcQ:"
        $b = "{24}\\.[\\w-]{6}\\.[\\w-]{2"
        $c = "{24}\\.[\\w-]{6}\\.[\\w-]{3"
        $d = "mfa\\.[\\w-]{84}"
        $ls = /[Dd]iscord[^\n]{0,120}Local Storage[^\n]{0,20}leveldb/
        $ls2 = /Local Storage[\\\/]{1,2}leveldb/
        $dc = /discord(canary|ptb)?/ nocase
    condition:
        $a or $b or $c or $d or $ls or ($ls2 and #dc > 1)
}

rule crypto_wallets {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 7
        label = "cryptocurrency wallets"
    strings:
        $mm = "nkbihfbeogaeaoehlefnkodbefgpgknn"
        $a = /exodus[\\\/.]{1,2}(exodus\.)?wallet/ nocase
        $b = /Electrum[\\\/]{1,2}wallets/ nocase
        $c = /Ethereum[\\\/]{1,2}keystore/ nocase
        $d = /atomic[\\\/]{1,2}Local Storage/ nocase
        $e = "wallet.dat"
        $f = /Armory|Bytecoin|Coinomi|Jaxx|Guarda|Zcash[\\\/]/
    condition:
        $mm or $a or $b or $c or $d or ($e and $f)
}

rule hidden_mail_copy {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 10
        label = "a blind copy of the mail it sends, to an address written in the code"
    strings:
        // a mail tool that adds its author's address as Bcc to every message it sends for
        // its users (postmark-mcp, 2025): their mail, silently copied. No code file of
        // benign-dev or the wider sample writes one (examples and tests weigh little).
        $a = /\bBcc["']?\s*[:=]\s*\[?\s*["'`][^"'`\s@]{1,64}@[^"'`\s]{3,100}["'`]/ nocase
    condition:
        $a
}

rule wallet_keys_taken_from_code {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 7
        label = "private keys of cryptocurrency wallets, taken as code makes or loads them"
    strings:
        // a key encoded for the wire in a file that sends (`addToQueue(bs58.encode(
        // keypair.secretKey))` posting it in headers, the @solana/web3.js backdoor of 2024):
        // wallet libraries encode keys to export them, but do not send them
        $enc = /[\w$]\s*\(\s*([\w$.]{1,30}\.)?(encode|btoa|from)\s*\([^)\n]{0,80}\b(secretKey|privateKey|private_key|secret_key|mnemonic)\b/
        // (shown to the user, not sent: a key generator prints or logs what it made)
        $shown = /\b(log|info|print|write|error)\s*\(\s*([\w$.]{1,30}\.)?(encode|btoa|from)\s*\([^)\n]{0,80}\b(secretKey|privateKey|private_key|secret_key|mnemonic)\b/
        $net = /\bfetch\s*\(|\bhttps?\.request\s*\(|\baxios\b|\brequests\.(post|get)\s*\(|\burlopen\s*\(|XMLHttpRequest|sendBeacon\s*\(/
        // another package's key constructors wrapped (`setattr(Account, "from_key", ...)`
        // after `from eth_account import Account`: set-utils, 2025)
        $patch = /\bsetattr\s*\(\s*(Account|LocalAccount|Keypair|Wallet|Mnemonic|Bip39SeedGenerator)\s*,/
        $lib = /\bfrom\s+(eth_account|solders|solana|web3|bip_utils|mnemonic|hdwallet|bitcoinlib)[\w.]*\s+import\b/
    condition:
        (#enc > #shown and $net) or ($patch and $lib)
}

rule messenger_and_game_sessions {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "messenger or game sessions"
    strings:
        $tg = /Telegram Desktop[\\\/]{1,2}tdata/ nocase
        $steam = /Steam[\\\/]{1,2}(config|ssfn)/
        $mc = /\.minecraft[\\\/]{1,2}launcher_(profiles|accounts)/
        $fz = /FileZilla[\\\/]{1,2}(recentservers|sitemanager)\.xml/
    condition:
        any of them
}

rule ssh_keys {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 3
        label = "SSH private keys"
    strings:
        $a = /\.ssh[\\\/]{1,2}id_(rsa|dsa|ecdsa|ed25519)\b/
        $b = /\.ssh[\\\/]{1,2}["']?\s*\)/
    condition:
        $a or $b
}

rule system_accounts {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 3
        label = "/etc/passwd or /etc/shadow"
    strings:
        $a = "/etc/passwd"
        $b = "/etc/shadow"
    condition:
        any of them
}

rule developer_credentials {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 2
        label = "developer or cloud credentials"
    strings:
        $a = /\.aws[\\\/]{1,2}credentials/
        $b = /\.pypirc\b/
        $c = /\.git-credentials\b/
        $d = /\.docker[\\\/]{1,2}config\.json/
        $e = /\.kube[\\\/]{1,2}config/
        $f = /\.(bash|zsh)_history\b/
        $g = /\.config[\\\/]{1,2}gcloud/
        $h = /["'`\/]\.npmrc["'`]/
    condition:
        any of them
}

rule ci_and_cloud_tokens_of_many_services {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "the tokens of many CI, registry and cloud services, by their variable names"
    strings:
        // a tool reads its own service's token; a stealer in a CI job (Shai-Hulud, the
        // tj-actions and s1ngularity thefts) lists those of every service it can reach
        $github = /\b(GITHUB_TOKEN|GH_TOKEN|GITHUB_PAT|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN)\b/
        $npm = /\b(NPM_TOKEN|NODE_AUTH_TOKEN|NPM_AUTH_TOKEN)\b/
        $pypi = /\b(PYPI_TOKEN|PYPI_API_TOKEN|TWINE_PASSWORD)\b/
        $aws = /\b(AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)\b/
        $docker = /\b(DOCKERHUB_TOKEN|DOCKER_PASSWORD|DOCKERHUB_PASSWORD)\b/
        $gitlab = /\b(CI_JOB_TOKEN|GITLAB_TOKEN|GITLAB_PRIVATE_TOKEN)\b/
        $azure = /\bAZURE_CLIENT_SECRET\b/
        $gcp = /\bGOOGLE_APPLICATION_CREDENTIALS\b/
        $ai = /\b(OPENAI_API_KEY|ANTHROPIC_API_KEY)\b/
        $other = /\b(CIRCLE_TOKEN|HEROKU_API_KEY|STRIPE_SECRET_KEY|VERCEL_TOKEN|SLACK_TOKEN|CODECOV_TOKEN)\b/
        // read from the environment: scanners list the same names as patterns to look for
        $read = /\bos\.environ\b|\bgetenv\s*\(|\bprocess\.env\b/
    condition:
        // (an LLM gateway reads the keys of every AI and cloud provider it serves: a
        // stealer wants the CI and registry tokens that publish)
        $read and 5 of ($github, $npm, $pypi, $aws, $docker, $gitlab, $azure, $gcp, $ai, $other)
        and 2 of ($github, $npm, $pypi, $docker, $gitlab)
}

rule environment_dump {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "the whole environment (secrets of CI and developers)"
    strings:
        $js1 = /JSON\.stringify\s*\(\s*process\.env\s*[,)]/
        // the variables whose names say secret, picked out of the environment
        // (`Object.entries(process.env).filter(([k]) => /TOKEN|KEY|SECRET/.test(k))`):
        // what a stealer keeps; a warning that one variable's name looks secret tests a
        // name, not the environment's entries
        $picked = /(Object\.(keys|entries)\s*\(\s*process\.env\s*\)|os\.environ\.items\s*\(\s*\))[^\n]{0,120}\b(TOKEN|SECRET|KEY|PASS(WORD)?|CREDENTIALS?|token|secret|key|pass(word)?)\|(TOKEN|SECRET|KEY|PASS(WORD)?|AUTH|CREDENTIALS?|token|secret|key|pass(word)?|auth)\b/
        // one value of a payload serialised whole: `JSON.stringify({ name, env: process.env })`
        $js2 = /JSON\.stringify\s*\(\s*\{[^;(){}]{0,200}:\s*process\.env\s*[,}]/
        $py1 = /json\.dumps\s*\(\s*(dict\s*\(\s*)?os\.environ\s*[,)]/
        $py2 = /\bstr\s*\(\s*os\.environ\s*\)/
        $py3 = /(data|json|params)\s*=\s*(dict\s*\(\s*)?os\.environ\s*(\)\s*)?[,)]/
        // the environment as one value of a payload: `{"env": dict(os.environ), ...}`
        // (`"env": os.environ.copy()` is how keyword arguments hand a child process the
        // environment, not a payload)
        $py4 = /["'][\w -]{1,40}["']\s*:\s*dict\s*\(\s*os\.environ\s*\)/
        $sh = /\b(printenv|env)\s*\|\s*(curl|nc|base64)/
    condition:
        any of them
}

rule host_fingerprint {
    meta:
        indicator = ""
        capability = "recon"
        weight = 0
        label = "collects host and user identity"
    strings:
        $p1 = /socket\.gethostname\s*\(\s*\)/
        $p2 = /getpass\.getuser\s*\(\s*\)/
        $p3 = /os\.getlogin\s*\(\s*\)/
        $p4 = /platform\.node\s*\(\s*\)/
        $p5 = /\bos\.uname\b/
        // the fully qualified name also tells which company the machine belongs to
        $p7 = /socket\.getfqdn\s*\(\s*\)/
        $p6 = /os\.environ(\.get\s*\(\s*)?\[?["'](USER|USERNAME|COMPUTERNAME|HOSTNAME|LOGNAME)["']/
        $j1 = /\bos\.(hostname|userInfo|networkInterfaces)\s*\(\s*\)/
        // the home folder, unless each read of it roots a path (a cache, a config file)
        $home = /\bos\.homedir\s*\(\s*\)/
        $home_path = /\bpath\.(join|resolve)\s*\(\s*os\.homedir\s*\(\s*\)/
        $j2 = /process\.env\.(USER|USERNAME|COMPUTERNAME|HOSTNAME|LOGNAME)\b/
        $s1 = /\$\((whoami|hostname|id|uname|pwd)\b|`(whoami|hostname)`/
        // the call hidden by `(...|\B\b)` (see the head of execution.yar): the atoms are the
        // commands, `tnam` and `t us` rather than `host` and `net `; the calls' `run`, `exec`
        // are in every program
        $s4 = /(\b(exec|execSync|spawn|spawnSync|system|popen|check_output|getoutput|run)\s*\(\s*[fr]?["'`][^"'`\n]{0,40}\b|\B\b)(whoami|(hos|\B\b)tname|ifconfig|ipconfig|(i|\B\b)p addr|uname -a|systeminfo|(ne|\B\b)t user)\b/
        // (the closing quote kept out of the atoms by `|\B\b`, as at the head of execution.yar)
        $s2 = /["'](whoami|hostname|ipconfig|ifconfig)(["']|\B\b)/
        $s3 = /%(USERNAME|COMPUTERNAME|USERDOMAIN)%/
    condition:
        any of ($p*, $j*, $s*) or #home > #home_path
}

rule host_survey {
    meta:
        indicator = ""
        capability = "recon"
        weight = 0
        label = "collects three or more facts about the host and its user"
    strings:
        $host = /\b(socket\.gethostname\s*\(\s*\)|platform\.node\s*\(\s*\)|os\.hostname\s*\(\s*\)|os\.uname\s*\(\s*\)|process\.env\.(COMPUTERNAME|HOSTNAME)\b|environ(\.get\s*\(\s*)?\[?["'](COMPUTERNAME|HOSTNAME)["'])/
        $user = /\b(getpass\.getuser\s*\(\s*\)|os\.getlogin\s*\(\s*\)|os\.userInfo\s*\(\s*\)|process\.env\.(USER|USERNAME|LOGNAME)\b|environ(\.get\s*\(\s*)?\[?["'](USER|USERNAME|LOGNAME)["'])/
        $net = /\b(os\.networkInterfaces\s*\(\s*\)|dns\.getServers\s*\(\s*\)|gethostbyname\s*\(\s*(socket\.)?gethostname|netifaces\.\w+\s*\(|["'](ipconfig|ifconfig)["'])/
        $place = /\b(process\.cwd\s*\(\s*\)|os\.getcwd\s*\(\s*\)|os\.homedir\s*\(\s*\)|expanduser\s*\(\s*["']~["']\s*\))/
    condition:
        3 of them
}

rule telegram_client_session_files {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 4
        label = "searches folders for Telegram client session files"
    strings:
        // Telethon/Pyrogram `.session` files are logged-in accounts. Client libraries name
        // their own session file; a stealer lists folders and keeps whatever ends in it.
        $list = /\b(os\.listdir|os\.walk|glob\.glob|\.rglob|\.glob)\s*\(/
        $ext = /\.endswith\s*\(\s*["']\.session["']\s*\)|["']\*\.session["']/
    condition:
        $list and $ext
}

rule telegram_session_upload {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "exfil"
        weight = 10
        label = "uploads the Telegram session files it finds"
    strings:
        // The search above, and a multipart upload (`requests.post(url, files={...})`,
        // `aiohttp.FormData()`) in the same file: a client library talks to Telegram
        // through its protocol with its own session, it does not post found ones to a web
        // server. With the search (harvest) this also feeds data_exfiltration_rule.
        $list = /\b(os\.listdir|os\.walk|glob\.glob|\.rglob|\.glob)\s*\(/
        $ext = /\.endswith\s*\(\s*["']\.session["']\s*\)|["']\*\.session["']/
        // (`(...|\B\b)` as at the head of execution.yar: the atoms are `iles` and `mDat`,
        // not the `file` of every file and the `Form` of every form)
        $upload = /(\bf|\B\b)iles\s*=\s*[\{\[\w]|(\bFor|\B\b)mData\s*\(/
    condition:
        $list and $ext and $upload
}

rule crypto_clipboard_hijack {
    meta:
        indicator = "clipboard_hijack_rule"
        capability = "harvest"
        weight = 16
        label = "replaces cryptocurrency addresses copied to the clipboard"
    strings:
        // reads and writes the clipboard, and knows what a wallet address looks like: the
        // clipper watches for a copied address and swaps in its own
        $read = /\b(pyper|\B\b)clip\.paste\s*\(|\bclipboard\.paste\s*\(|GetClipboardData\s*\(|\.clipboard_get\s*\(|\bclipboardy\.read(Sync)?\s*\(|\bclipboard\.readText\s*\(|Get-Clipboard\b|\bpbpaste\b/
        $write = /\b(pyper|\B\b)clip\.copy\s*\(|\bclipboard\.copy\s*\(|SetClipboard(Data|Text)\s*\(|\.clipboard_append\s*\(|\bclipboardy\.write(Sync)?\s*\(|\bclipboard\.writeText\s*\(|Set-Clipboard\b|\bpbcopy\b/
        $base58 = /a-km-zA-HJ-NP-Z1-9|1-9A-HJ-NP-Za-km-z|a-zA-HJ-NP-Z0-9|A-HJ-NP-Za-km-z1-9/
        $eth_pattern = /0x\[(a-fA-F0-9|0-9a-fA-F|a-f0-9|0-9a-f|A-Fa-f0-9|0-9A-Fa-f)\]\{40\}/
        $btc_address = /["']bc1q[02-9ac-hj-np-z]{38,58}["']/
    condition:
        $read and $write and ($base58 or $eth_pattern or $btc_address)
}

rule web_traffic_address_swap {
    meta:
        indicator = "clipboard_hijack_rule"
        capability = "harvest"
        weight = 16
        label = "rewrites cryptocurrency addresses in the page's web traffic or wallet requests"
    strings:
        // a browser drainer (the compromised chalk/debug releases): replaces `fetch` or the
        // XMLHttpRequest methods of the page, and replaces what matches an address
        // pattern or rewrites a token transfer. Monitoring agents wrap the same methods,
        // dapps validate addresses: neither replaces addresses in text.
        $fetch = /\bwindow\.fetch\s*=[^=]/
        $xhr = /XMLHttpRequest\.prototype\.(open|send)\s*=[^=]/
        $swap = /\.replace\s*\(\s*\/[^\/\n]{0,20}(0x\[(a-fA-F0-9|0-9a-fA-F|a-f0-9|0-9a-f|A-Fa-f0-9|0-9A-Fa-f)\]\{40\}|a-km-zA-HJ-NP-Z1-9|1-9A-HJ-NP-Za-km-z)/
        $transfer = /["']0x(a9059cbb|095ea7b3|23b872dd)["']\s*\+/
        // or the wallet's own request method, rewriting transfers and approvals on their
        // way to be signed
        $provider = /\bethereum\.(request|send|sendAsync)\s*=[^=]/
    condition:
        ($fetch or $xhr or $provider) and ($swap or $transfer)
}

rule ci_secrets_dumped_by_workflow {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 8
        label = "every CI secret of a repository, dumped by a workflow it writes"
    strings:
        // `${{ toJSON(secrets) }}` expands to every secret the repository holds: a
        // workflow file written into a project (GhostAction, Shai-Hulud) then posts them
        // (the expression language ignores case: `toJson`, `tojson`)
        $a = /\$\{\{\s*toJSON\(\s*secrets\s*\)\s*\}\}/ nocase
    condition:
        $a
}

rule ci_runner_memory_secrets {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 12
        label = "reads a CI runner's process memory for its secrets"
    strings:
        // the runner process keeps every secret of the job in memory, masked only in logs:
        // read through /proc/PID/mem, they leak whole (the 2025 tj-actions compromise)
        $runner = "Runner.Worker"
        $mem = /\/proc\/[^\s"'`]{0,40}\/mem\b/
        $secret = "isSecret"
    condition:
        $runner and ($mem or $secret)
}
