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
        // A run of letters from U+1D400-U+1D7FF (bold, italic, sans-serif...) used as a
        // name: assigned, called or dereferenced. Python NFKC-normalises identifiers, so
        // `𝗼𝘀.system` is `os.system` to the interpreter and unreadable to a grep.
        $a = /(\xF0\x9D[\x90-\x9F][\x80-\xBF]){2}(\xF0\x9D[\x90-\x9F][\x80-\xBF]|\w)*\s*(=[^=]|\(|\.[A-Za-z_])/
    condition:
        #a >= 3
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
        $key = /(ms-settings|mscfile|exefile|Folder|Launcher\.SystemSettings)\\{1,2}shell\\{1,2}open\\{1,2}command/ nocase
        $bin = /\b(fodhelper|computerdefaults|eventvwr|sdclt|wsreset|slui)(\.exe)?\b/ nocase
    condition:
        $key and $bin
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
        $secret = /\b(read|open|cat|send|include|pass|append|upload)\b[^\n]{0,80}(api[_ ]?key|\.ssh|id_rsa|\.env\b|credentials|mcp\.json|\.aws|passwords?|private key|\btokens?\b)/ nocase
        $quiet = /\b(do not|don't|never)\s+(tell|mention|inform|reveal|notify|show)[^\n]{0,30}\buser\b/ nocase
    condition:
        any of ($tool*) and $tag and ($secret or $quiet)
}
