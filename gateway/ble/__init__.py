"""gateway/ble"""
