// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice LOCAL CHAIN ONLY: a plain 18-decimal ERC-20 ("TUSD") for demos and tests. The whole
/// supply is minted to `holder`, given explicitly because a CREATE2 factory deploys it.
contract TestToken is ERC20 {
    constructor(address holder, uint256 supply) ERC20("Impressox Test USD", "TUSD") {
        _mint(holder, supply);
    }
}
