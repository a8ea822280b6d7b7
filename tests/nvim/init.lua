-- The Neovim 0.7 configuration of docs/lsp.md: `kubeskippy lsp` for Skippy
-- files and YAML manifests, with 0.7's API (Debian 12 ships 0.7, and
-- `vim.lsp.start` only came in 0.8). KUBESKIPPY_BIN lets the test run the
-- binary cargo built rather than one on the PATH.
vim.cmd([[autocmd BufRead,BufNewFile *.skippy setfiletype skippy]])

local skippy_client
vim.api.nvim_create_autocmd('FileType', {
  pattern = { 'skippy', 'yaml' },
  callback = function(args)
    -- One server for every buffer: it serves the whole workspace.
    skippy_client = skippy_client or vim.lsp.start_client({
      name = 'skippy',
      cmd = { os.getenv('KUBESKIPPY_BIN') or 'kubeskippy', 'lsp' },
      root_dir = vim.fn.getcwd(),
    })
    vim.lsp.buf_attach_client(args.buf, skippy_client)
  end,
})
