// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AgentVault} from "./AgentVault.sol";

/// @title AgentVaultV2
/// @notice The upgrade target used by `chain upgrade` and its test. Inheriting AgentVault keeps
/// the storage layout identical by construction (all state sits in the ERC-7201 namespace);
/// only `version()` changes.
contract AgentVaultV2 is AgentVault {
    function version() external pure override returns (string memory) {
        return "2";
    }
}
