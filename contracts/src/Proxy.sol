// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Pulls OpenZeppelin's ERC1967Proxy into the build so deploy.py has its artifact.
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
