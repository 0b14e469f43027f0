"""Every rule of the engine, in reporting order. A rule is ``(Package) -> Indicator | None``."""

from __future__ import annotations

from threatfeed.analysis.rules.base import Rule
from threatfeed.analysis.rules.binaries import shipped_binary_rule
from threatfeed.analysis.rules.concealment import (
    agent_instruction_injection_rule,
    disguised_code_archive_rule,
    encoded_exfiltration_endpoint_rule,
    install_time_package_install_rule,
    poisoned_agent_instructions_rule,
    privilege_escalation_rule,
)
from threatfeed.analysis.rules.correlation import (
    data_exfiltration_rule,
    hidden_endpoint_rule,
    install_time_beacon_rule,
    install_time_download_rule,
    obfuscated_network_code_rule,
    raw_ip_endpoint_rule,
    staging_host_rule,
)
from threatfeed.analysis.rules.cross_module import cross_module_exfiltration_rule
from threatfeed.analysis.rules.decrypted import decrypted_code_exec_rule
from threatfeed.analysis.rules.dependencies import remote_dependency_rule
from threatfeed.analysis.rules.hidden import (
    concealed_endpoint_rule,
    cryptominer_rule,
    decoder_function_exec_rule,
    fragmented_command_rule,
)
from threatfeed.analysis.rules.impersonation import impersonation_rule
from threatfeed.analysis.rules.imports import imported_test_code_rule, setup_imports_package_rule
from threatfeed.analysis.rules.install import suspicious_setup_commands_rule
from threatfeed.analysis.rules.install_probes import (
    empty_package_request_rule,
    install_time_program_launch_rule,
    install_time_unread_request_rule,
)
from threatfeed.analysis.rules.metadata import dependency_confusion_rule, trivial_package_rule
from threatfeed.analysis.rules.network import ip_identification_rule, suspicious_url_references_rule
from threatfeed.analysis.rules.npm import (
    command_shadowing_rule,
    npm_hooks_rule,
    npm_security_placeholder_rule,
)
from threatfeed.analysis.rules.obfuscation import obfuscated_code_rule
from threatfeed.analysis.rules.pickles import pickle_code_execution_rule
from threatfeed.analysis.rules.pictures import picture_payload_rule
from threatfeed.analysis.rules.protected import protected_code_stealer_dependencies_rule
from threatfeed.analysis.rules.running_code import running_code_execution_rule
from threatfeed.analysis.rules.setup_reach import setup_runs_package_code_rule
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
    yara_signature_rule,
)
from threatfeed.analysis.rules.structure import archive_structure_rule
from threatfeed.analysis.rules.typosquatting import typosquatting_rule

RULES: tuple[Rule, ...] = (
    npm_hooks_rule,
    npm_security_placeholder_rule,
    command_shadowing_rule,
    remote_dependency_rule,
    suspicious_setup_commands_rule,
    executes_code_at_remote_url_rule,
    decode_and_execute_rule,
    running_code_execution_rule,
    decoder_function_exec_rule,
    decrypted_code_exec_rule,
    pickle_code_execution_rule,
    reverse_shell_rule,
    powershell_dropper_rule,
    credential_harvesting_rule,
    clipboard_hijack_rule,
    data_exfiltration_rule,
    cross_module_exfiltration_rule,
    install_time_beacon_rule,
    install_time_download_rule,
    install_time_package_install_rule,
    install_time_program_launch_rule,
    install_time_unread_request_rule,
    empty_package_request_rule,
    setup_runs_package_code_rule,
    setup_imports_package_rule,
    imported_test_code_rule,
    raw_ip_endpoint_rule,
    hidden_endpoint_rule,
    encoded_exfiltration_endpoint_rule,
    concealed_endpoint_rule,
    obfuscated_network_code_rule,
    staging_host_rule,
    dns_exfiltration_rule,
    persistence_rule,
    privilege_escalation_rule,
    destructive_command_rule,
    cryptominer_rule,
    fragmented_command_rule,
    suspicious_url_references_rule,
    ip_identification_rule,
    obfuscated_code_rule,
    protected_code_stealer_dependencies_rule,
    shipped_binary_rule,
    disguised_code_archive_rule,
    picture_payload_rule,
    agent_instruction_injection_rule,
    poisoned_agent_instructions_rule,
    dependency_confusion_rule,
    typosquatting_rule,
    impersonation_rule,
    trivial_package_rule,
    archive_structure_rule,
    yara_signature_rule,
)

__all__ = ["RULES", "Rule"]
