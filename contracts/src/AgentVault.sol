// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title AgentVault
/// @notice Holds a user's ETH and ERC-20 tokens. The owner (the user) withdraws and sets
/// per-token daily limits; the operator (the agent's signer) may only `spend` within those
/// limits, once per reference. Deployed behind an ERC1967Proxy; only the owner upgrades (UUPS).
/// @dev State lives in one ERC-7201 namespaced struct so later versions cannot collide with
/// inherited storage. The reentrancy guard uses transient storage (EIP-1153, evm >= cancun):
/// it has no storage slot and needs no initialisation behind the proxy.
contract AgentVault is Initializable, UUPSUpgradeable, OwnableUpgradeable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The pseudo token address that stands for native ETH in limits, events and spend.
    address public constant ETH = address(0);

    /// @custom:storage-location erc7201:impressox.storage.AgentVault
    struct VaultStorage {
        address operator;
        mapping(address token => uint256) dailyLimit;
        mapping(address token => mapping(uint256 day => uint256)) spent;
        mapping(bytes32 ref => bool) referenceUsed;
    }

    // keccak256(abi.encode(uint256(keccak256("impressox.storage.AgentVault")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant VAULT_STORAGE = 0x82e793c66b1976bc283de545e865a560b557a37c2daa5e23409ead67f09d6600;

    event Deposited(address indexed from, address indexed token, uint256 amount);
    event Spent(bytes32 indexed ref, address indexed token, address indexed to, uint256 amount);
    event Withdrawn(address indexed token, address indexed to, uint256 amount);
    event LimitSet(address indexed token, uint256 limit);
    event OperatorSet(address indexed previousOperator, address indexed newOperator);

    error NotOperator(address caller);
    error ReferenceUsed(bytes32 ref);
    error LimitExceeded(address token, uint256 requested, uint256 remainingToday);
    error InsufficientBalance(address token, uint256 requested, uint256 available);
    error ZeroAddress();
    error ZeroAmount();
    error EthTransferFailed(address to, uint256 amount);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        // the implementation itself must never be initialised; only proxies are
        _disableInitializers();
    }

    /// @param owner_ the vault's owner; explicit because a CREATE2 factory deploys the proxy
    /// @param operator_ the signer allowed to `spend` within the daily limits
    function initialize(address owner_, address operator_) external initializer {
        if (owner_ == address(0) || operator_ == address(0)) revert ZeroAddress();
        __Ownable_init(owner_);
        _setOperator(operator_);
    }

    receive() external payable {
        emit Deposited(msg.sender, ETH, msg.value);
    }

    /// @notice Pull `amount` of `token` from the caller (who approved it first).
    function depositToken(address token, uint256 amount) external nonReentrant {
        if (token == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(msg.sender, token, amount);
    }

    /// @notice The operator pays `amount` of `token` (address(0) = ETH) to `to`, at most once per `ref`
    /// and within today's limit. `ref` is the caller's idempotency key: a retry cannot pay twice.
    function spend(bytes32 ref, address token, address to, uint256 amount) external nonReentrant {
        VaultStorage storage s = _vault();
        if (msg.sender != s.operator) revert NotOperator(msg.sender);
        if (s.referenceUsed[ref]) revert ReferenceUsed(ref);
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 day = block.timestamp / 1 days;
        uint256 spentToday_ = s.spent[token][day];
        uint256 limit = s.dailyLimit[token];
        uint256 remaining = limit > spentToday_ ? limit - spentToday_ : 0;
        if (amount > remaining) revert LimitExceeded(token, amount, remaining);
        s.referenceUsed[ref] = true;
        s.spent[token][day] = spentToday_ + amount;
        emit Spent(ref, token, to, amount);
        _pay(token, to, amount);
    }

    /// @notice The owner takes funds out; no limit applies to the owner.
    function withdraw(address token, address to, uint256 amount) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        emit Withdrawn(token, to, amount);
        _pay(token, to, amount);
    }

    /// @notice Set how much of `token` (address(0) = ETH) the operator may spend per UTC day.
    function setDailyLimit(address token, uint256 limit) external onlyOwner {
        _vault().dailyLimit[token] = limit;
        emit LimitSet(token, limit);
    }

    function setOperator(address operator_) external onlyOwner {
        if (operator_ == address(0)) revert ZeroAddress();
        _setOperator(operator_);
    }

    function version() external pure virtual returns (string memory) {
        return "1";
    }

    function operator() external view returns (address) {
        return _vault().operator;
    }

    function dailyLimit(address token) external view returns (uint256) {
        return _vault().dailyLimit[token];
    }

    function spentToday(address token) external view returns (uint256) {
        return _vault().spent[token][block.timestamp / 1 days];
    }

    function referenceUsed(bytes32 ref) external view returns (bool) {
        return _vault().referenceUsed[ref];
    }

    function _setOperator(address operator_) private {
        VaultStorage storage s = _vault();
        emit OperatorSet(s.operator, operator_);
        s.operator = operator_;
    }

    function _pay(address token, address to, uint256 amount) private {
        uint256 available = token == ETH ? address(this).balance : IERC20(token).balanceOf(address(this));
        if (amount > available) revert InsufficientBalance(token, amount, available);
        if (token == ETH) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert EthTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}

    function _vault() private pure returns (VaultStorage storage s) {
        bytes32 slot = VAULT_STORAGE;
        assembly {
            s.slot := slot
        }
    }
}
