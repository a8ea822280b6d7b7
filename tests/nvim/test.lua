-- Drives `kubeskippy lsp` through Neovim's own LSP client (0.7 API), as a
-- user's editor would: diagnostics, completion, hover and formatting, in a
-- `.skippy` file and in a HealingPolicy manifest whose policy is folded
-- (`policy: >`). Run by tests/nvim.rs:
--   nvim --headless --clean -u tests/nvim/init.lua -c 'luafile tests/nvim/test.lua'
-- Exits 0 when every check holds; otherwise prints what failed and exits 1
-- (a Lua error too: headless Neovim would otherwise wait forever).

local dir = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local TIMEOUT = 10000

local function fail(message)
  io.stderr:write('nvim LSP test failed: ' .. message .. '\n')
  vim.cmd('cquit 1')
end

local function open(name)
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/' .. name))
  return vim.api.nvim_get_current_buf()
end

-- Waits for the diagnostic with `code` in `buf`; returns it.
local function diagnostic(buf, code)
  local found
  vim.wait(TIMEOUT, function()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if d.code == code then
        found = d
        return true
      end
    end
    return false
  end, 20)
  if not found then
    local got = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      table.insert(got, tostring(d.code) .. ' at ' .. (d.lnum + 1) .. ':' .. (d.col + 1))
    end
    fail(('no %s in %s within %d ms (got: %s)'):format(code, vim.api.nvim_buf_get_name(buf), TIMEOUT,
      table.concat(got, ', ')))
  end
  return found
end

local function expect_at(d, line, column, what)
  -- Neovim's lines and columns count from 0; the messages count from 1.
  if d.lnum + 1 ~= line or d.col + 1 ~= column then
    fail(('%s at %d:%d, expected %d:%d'):format(what, d.lnum + 1, d.col + 1, line, column))
  end
end

-- The one answer of the server to `method` at 1-based `line`, `column`.
local function request(buf, method, line, column)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = line - 1, character = column - 1 },
  }
  local answers, err = vim.lsp.buf_request_sync(buf, method, params, TIMEOUT)
  if not answers then
    fail(('%s: no answer (%s)'):format(method, tostring(err)))
  end
  for _, answer in pairs(answers) do
    if answer.error then
      fail(('%s: error %s'):format(method, vim.inspect(answer.error)))
    end
    return answer.result
  end
  fail(method .. ': no client answered')
end

local function completion_labels(buf, line, column)
  local result = request(buf, 'textDocument/completion', line, column) or {}
  local labels = {}
  for _, item in ipairs(result.items or result) do
    labels[item.label] = true
  end
  return labels
end

local function expect_completion(buf, line, column, label)
  local labels = completion_labels(buf, line, column)
  if not labels[label] then
    fail(('completion at %d:%d of %s lacks %q (got %s)'):format(line, column,
      vim.api.nvim_buf_get_name(buf), label, vim.inspect(vim.tbl_keys(labels))))
  end
end

local function expect_hover(buf, line, column, needle)
  local result = request(buf, 'textDocument/hover', line, column)
  local contents = result and result.contents or ''
  local text = type(contents) == 'table' and (contents.value or vim.inspect(contents)) or contents
  if not text:find(needle, 1, true) then
    fail(('hover at %d:%d lacks %q: %s'):format(line, column, needle, text))
  end
end

local function lines_of(path)
  local f = assert(io.open(path))
  local text = f:read('*a')
  f:close()
  return vim.split(text:gsub('\n$', ''), '\n', { plain = true })
end

local function run()
  -- A policy file with a misspelled metric on line 5.
  local policy = open('error.skippy')
  expect_at(diagnostic(policy, 'E0101'), 5, 8, 'E0101 (unknown metric)')
  expect_completion(policy, 4, 33, 'restart') -- after `then `
  expect_completion(policy, 4, 33, 'delete')
  expect_hover(policy, 4, 9, 'restarts')

  -- A manifest whose folded `spec.policy` has a misspelled status: the
  -- diagnostic, hover and completion are at the YAML file's own places.
  local manifest = open('manifest.yaml')
  expect_at(diagnostic(manifest, 'E0102'), 12, 22, 'E0102 (unknown status)')
  expect_hover(manifest, 11, 14, 'memory_percent')
  expect_completion(manifest, 11, 45, 'restart')

  -- Formatting rewrites the buffer to what `kubeskippy fmt` writes.
  local unformatted = open('unformatted.skippy')
  vim.lsp.buf.formatting_sync(nil, TIMEOUT)
  local got = vim.api.nvim_buf_get_lines(unformatted, 0, -1, false)
  local want = lines_of(dir .. '/formatted.skippy')
  if not vim.deep_equal(got, want) then
    fail(('formatting gave\n%s\nexpected\n%s'):format(table.concat(got, '\n'), table.concat(want, '\n')))
  end
  -- Nothing else to check: leave without asking to save the buffer.
  print('nvim LSP test passed: diagnostics, completion, hover, formatting')
  vim.cmd('qall!')
end

local ok, err = xpcall(run, debug.traceback)
if not ok then
  fail(tostring(err))
end
