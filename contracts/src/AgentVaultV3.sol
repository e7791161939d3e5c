// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title AgentVaultV3
/// @notice AgentVault with two switches for the owner's safety:
/// * a freeze: `pause()` by the owner or the operator (the platform, on a user's word), `unpause()`
///   by the owner only, so a stolen platform key or API key can stop money but never restart it;
///   while paused, `spend` and the queued spends revert;
/// * a time lock: spends above an owner-set per-token threshold must be queued (`queueSpend`) and can
///   be executed only after the owner-set delay; the owner can cancel a queued spend meanwhile.
/// @dev A standalone copy of AgentVault (v1), not a subclass: v1's functions are not virtual, and its
/// bytecode must stay as deployed (user vault addresses derive from it). The v1 state sits in the very
/// same ERC-7201 namespace, so an existing vault upgrades in place (UUPS) with balances, limits and
/// used references kept; the new state lives in a namespace of its own and starts empty (not paused,
/// no threshold: nothing changes until the owner sets one).
contract AgentVaultV3 is Initializable, UUPSUpgradeable, OwnableUpgradeable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    address public constant ETH = address(0);

    /// @custom:storage-location erc7201:impressox.storage.AgentVault
    struct VaultStorage {
        address operator;
        mapping(address token => uint256) dailyLimit;
        mapping(address token => mapping(uint256 day => uint256)) spent;
        mapping(bytes32 ref => bool) referenceUsed;
    }

    struct QueuedSpend {
        address token;
        address to;
        uint256 amount;
        uint64 executableAt;
    }

    /// @custom:storage-location erc7201:impressox.storage.AgentVaultV3
    struct SafetyStorage {
        bool paused;
        uint64 queueDelay;
        mapping(address token => uint256) queueThreshold;
        mapping(bytes32 ref => QueuedSpend) queued;
    }

    // keccak256(abi.encode(uint256(keccak256("impressox.storage.AgentVault")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant VAULT_STORAGE = 0x82e793c66b1976bc283de545e865a560b557a37c2daa5e23409ead67f09d6600;
    // keccak256(abi.encode(uint256(keccak256("impressox.storage.AgentVaultV3")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant SAFETY_STORAGE = 0xa0967c4dc78860ac2e88734fe23e2c582bd5244cb6e2796a8e3b0d7950d91300;

    event Deposited(address indexed from, address indexed token, uint256 amount);
    event Spent(bytes32 indexed ref, address indexed token, address indexed to, uint256 amount);
    event Withdrawn(address indexed token, address indexed to, uint256 amount);
    event LimitSet(address indexed token, uint256 limit);
    event OperatorSet(address indexed previousOperator, address indexed newOperator);
    event Paused(address account);
    event Unpaused(address account);
    event QueueRuleSet(address indexed token, uint256 threshold, uint64 delay);
    event SpendQueued(bytes32 indexed ref, address indexed token, address indexed to, uint256 amount, uint64 executableAt);
    event QueuedSpendCancelled(bytes32 indexed ref);

    error NotOperator(address caller);
    error ReferenceUsed(bytes32 ref);
    error LimitExceeded(address token, uint256 requested, uint256 remainingToday);
    error InsufficientBalance(address token, uint256 requested, uint256 available);
    error ZeroAddress();
    error ZeroAmount();
    error EthTransferFailed(address to, uint256 amount);
    error VaultPaused();
    error NotPaused();
    error NotOwnerOrOperator(address caller);
    error MustQueue(address token, uint256 amount, uint256 threshold);
    error NotQueued(bytes32 ref);
    error AlreadyQueued(bytes32 ref);
    error TooEarly(bytes32 ref, uint64 executableAt);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address owner_, address operator_) external initializer {
        if (owner_ == address(0) || operator_ == address(0)) revert ZeroAddress();
        __Ownable_init(owner_);
        _setOperator(operator_);
    }

    receive() external payable {
        emit Deposited(msg.sender, ETH, msg.value);
    }

    function depositToken(address token, uint256 amount) external nonReentrant {
        if (token == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(msg.sender, token, amount);
    }

    /// @notice As in v1, plus: reverts while paused, and above the token's queue threshold (queue it).
    function spend(bytes32 ref, address token, address to, uint256 amount) external nonReentrant {
        SafetyStorage storage f = _safety();
        if (f.paused) revert VaultPaused();
        uint256 threshold = f.queueThreshold[token];
        if (threshold != 0 && amount > threshold) revert MustQueue(token, amount, threshold);
        _spend(ref, token, to, amount);
    }

    /// @notice The operator announces a spend above the threshold; it runs after `queueDelay`.
    function queueSpend(bytes32 ref, address token, address to, uint256 amount) external {
        VaultStorage storage s = _vault();
        SafetyStorage storage f = _safety();
        if (msg.sender != s.operator) revert NotOperator(msg.sender);
        if (f.paused) revert VaultPaused();
        if (s.referenceUsed[ref]) revert ReferenceUsed(ref);
        if (f.queued[ref].executableAt != 0) revert AlreadyQueued(ref);
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint64 executableAt = uint64(block.timestamp) + f.queueDelay;
        f.queued[ref] = QueuedSpend(token, to, amount, executableAt);
        emit SpendQueued(ref, token, to, amount, executableAt);
    }

    /// @notice The operator executes a queued spend once its delay has passed (limits apply then).
    function executeQueued(bytes32 ref) external nonReentrant {
        SafetyStorage storage f = _safety();
        if (f.paused) revert VaultPaused();
        QueuedSpend memory q = f.queued[ref];
        if (q.executableAt == 0) revert NotQueued(ref);
        if (block.timestamp < q.executableAt) revert TooEarly(ref, q.executableAt);
        delete f.queued[ref];
        _spend(ref, q.token, q.to, q.amount);
    }

    /// @notice The owner cancels a queued spend before it runs.
    function cancelQueued(bytes32 ref) external onlyOwner {
        SafetyStorage storage f = _safety();
        if (f.queued[ref].executableAt == 0) revert NotQueued(ref);
        delete f.queued[ref];
        emit QueuedSpendCancelled(ref);
    }

    /// @notice Spends of `token` above `threshold` (0 = none) must be queued and wait `delay` seconds.
    function setQueueRule(address token, uint256 threshold, uint64 delay) external onlyOwner {
        SafetyStorage storage f = _safety();
        f.queueThreshold[token] = threshold;
        f.queueDelay = delay;
        emit QueueRuleSet(token, threshold, delay);
    }

    /// @notice Freeze: the owner or the operator stops every spend.
    function pause() external {
        if (msg.sender != owner() && msg.sender != _vault().operator) revert NotOwnerOrOperator(msg.sender);
        SafetyStorage storage f = _safety();
        if (f.paused) revert VaultPaused();
        f.paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Only the owner's wallet restarts spending.
    function unpause() external onlyOwner {
        SafetyStorage storage f = _safety();
        if (!f.paused) revert NotPaused();
        f.paused = false;
        emit Unpaused(msg.sender);
    }

    function withdraw(address token, address to, uint256 amount) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        emit Withdrawn(token, to, amount);
        _pay(token, to, amount);
    }

    function setDailyLimit(address token, uint256 limit) external onlyOwner {
        _vault().dailyLimit[token] = limit;
        emit LimitSet(token, limit);
    }

    function setOperator(address operator_) external onlyOwner {
        if (operator_ == address(0)) revert ZeroAddress();
        _setOperator(operator_);
    }

    function version() external pure returns (string memory) {
        return "3";
    }

    function paused() external view returns (bool) {
        return _safety().paused;
    }

    function queueThreshold(address token) external view returns (uint256) {
        return _safety().queueThreshold[token];
    }

    function queueDelay() external view returns (uint64) {
        return _safety().queueDelay;
    }

    function queuedSpend(bytes32 ref) external view returns (address token, address to, uint256 amount, uint64 executableAt) {
        QueuedSpend memory q = _safety().queued[ref];
        return (q.token, q.to, q.amount, q.executableAt);
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

    function _spend(bytes32 ref, address token, address to, uint256 amount) private {
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

    function _safety() private pure returns (SafetyStorage storage s) {
        bytes32 slot = SAFETY_STORAGE;
        assembly {
            s.slot := slot
        }
    }
}
