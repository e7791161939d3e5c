// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Chainlink's AggregatorV3Interface, copied so no extra npm package is needed.
interface AggregatorV3Interface {
    function decimals() external view returns (uint8);
    function description() external view returns (string memory);
    function version() external view returns (uint256);
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

/// @title MockPriceFeed
/// @notice LOCAL CHAIN ONLY: an AggregatorV3Interface whose answer the owner sets. Each
/// `setAnswer` starts a new round, so readers see rounds advance as with a real feed.
contract MockPriceFeed is AggregatorV3Interface, Ownable {
    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    uint8 private immutable _decimals;
    string private _description;
    uint80 private _latestRound;
    mapping(uint80 => Round) private _rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NoSuchRound(uint80 roundId);

    constructor(address owner_, uint8 decimals_, string memory description_, int256 answer_) Ownable(owner_) {
        _decimals = decimals_;
        _description = description_;
        _setAnswer(answer_);
    }

    function setAnswer(int256 answer_) external onlyOwner {
        _setAnswer(answer_);
    }

    function decimals() external view returns (uint8) {
        return _decimals;
    }

    function description() external view returns (string memory) {
        return _description;
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256, uint256, uint256, uint80)
    {
        Round memory r = _rounds[roundId];
        if (r.updatedAt == 0) revert NoSuchRound(roundId);
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(_latestRound);
    }

    function _setAnswer(int256 answer_) private {
        _latestRound += 1;
        _rounds[_latestRound] = Round(answer_, block.timestamp);
        emit AnswerUpdated(answer_, _latestRound, block.timestamp);
    }
}
