set -e
# --detect reports what the rootfs holds
[ "$("$TOOL" --rootfs "$ROOTFS" --conf "$CASE_DIR/conf" --detect 2>/dev/null)" = "archlinux - -" ]
